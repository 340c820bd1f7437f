using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>Validation perplexity after a step, measured during training.</summary>
internal sealed record PerplexityPoint(int Step, double Perplexity);

/// <summary>One training run: the model, its validation perplexity curve and final figure, wall time and tokens/s.</summary>
internal sealed record LMRunResult(MoHCausalLM Model, IReadOnlyList<PerplexityPoint> Curve, double Perplexity, TimeSpan Wall, double TokensPerSecond);

/// <summary>
/// The one recipe every language-model claim trains with, so that runs differ only in the architecture and the seed:
/// byte tokens, windows of <see cref="Window"/>, batches of <see cref="Batch"/>, one pass over exactly the tokens the
/// steps read (equal steps = equal tokens; with the 2411.16205 parity presets also equal FLOPs), AdamW with warmup and
/// cosine decay. A nonzero <c>dataOffsetSeed</c> starts the slice at a random place (continued training reads other text).
/// </summary>
internal sealed class LMRecipe(BrownBytes corpus, int steps, int curvePoints, int dataOffsetSeed = 0)
{
    public const int Window = 128, Batch = 16;
    public const double LearningRate = 3e-3, WeightDecay = 0.01, WarmupFraction = 0.05;

    public int Steps => steps;

    /// <summary>A fresh model of <paramref name="config"/> (byte vocabulary), its weights drawn from <paramref name="seed"/>.</summary>
    public static MoHCausalLM Create(CausalLMConfig config, int seed)
    {
        manual_seed(seed);
        return (MoHCausalLM)ModelRegistry.Create(config with { VocabularySize = ByteTokenizer.VocabularySize, MaxLength = Window });
    }

    /// <summary>Trains <paramref name="model"/> for the recipe's steps (data order from <paramref name="seed"/>), measuring
    /// validation perplexity at the start and <c>curvePoints</c> - 1 times along the way (when it is above 0), and at the end.</summary>
    public LMRunResult Train(MoHCausalLM model, int seed, string label, double balanceLossWeight = 0.01, double learningRate = LearningRate)
    {
        var curve = new List<PerplexityPoint>();
        if (curvePoints > 0) curve.Add(new(0, Perplexity(model)));
        int every = curvePoints > 0 ? Math.Max(1, steps / curvePoints) : steps;
        var evaluation = new Stopwatch();
        var clock = Stopwatch.StartNew();
        CausalLMTraining.Train(model, corpus.TrainSlice(steps, Batch, Window, dataOffsetSeed), null, new CausalLMTrainingOptions
        {
            SequenceLength = Window, BatchSize = Batch, Epochs = 1, LearningRate = learningRate, WeightDecay = WeightDecay,
            WarmupEpochs = WarmupFraction, BalanceLossWeight = balanceLossWeight, Seed = seed, LogEverySteps = every,
            ReportInterval = TimeSpan.FromDays(1),
            MetricsCallback = m =>
            {
                if (m.Phase != TrainingPhase.Step || m.Step % every != 0 || m.Step == steps) return;
                evaluation.Start();
                double perplexity = Perplexity(model);
                evaluation.Stop();
                curve.Add(new PerplexityPoint(m.Step, perplexity));
                Console.Error.WriteLine($"  {label} seed {seed}: step {m.Step}/{steps} loss {m.Loss:F3} val ppl {perplexity:F3} ({m.SamplesPerSecond * Window:F0} tok/s)");
            },
        });
        clock.Stop();
        double final = Perplexity(model);
        curve.Add(new PerplexityPoint(steps, final));
        var training = clock.Elapsed - evaluation.Elapsed;
        double tokensPerSecond = (double)steps * Batch * Window / training.TotalSeconds;
        Console.Error.WriteLine($"  {label} seed {seed}: val ppl {final:F3} after {steps} steps, {training.TotalSeconds:F0} s training ({tokensPerSecond:F0} tok/s)");
        return new LMRunResult(model, curve, final, training, tokensPerSecond);
    }

    /// <summary>Validation perplexity of <paramref name="model"/> on the held-out Brown files.</summary>
    public double Perplexity(MoHCausalLM model) => CausalLMTraining.Perplexity(model, corpus.Validation, Window);
}
