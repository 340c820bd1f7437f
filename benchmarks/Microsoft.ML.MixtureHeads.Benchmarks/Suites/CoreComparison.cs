using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// One training epoch per round on the same network (same seed), by the task-neutral core (batch source, objective,
/// <see cref="TrainingLoop"/>) and by the classifier loop it replaced (every row decoded into one CPU tensor, batches
/// gathered from it by a permutation; its step is kept here, as it was, only as this baseline). Rounds interleave the
/// variants in a rotating order. Every step's wall time is kept (the first of each epoch left out): the median is the
/// cost of a like step, little moved by a busy spell or a GC pause; the mean is what an epoch takes when steps differ
/// (batches of different lengths).
/// </summary>
internal static class CoreComparison
{
    /// <summary>Milliseconds per step of one variant: the median and the mean over every timed step.</summary>
    public sealed record StepTime(double Median, double Mean);

    /// <summary>Step times of the old loop and of the new core over each batch source.</summary>
    public sealed record StepTimes(StepTime OldCore, IReadOnlyList<StepTime> NewCore, long Steps);

    private sealed class Recipe : TrainerOptionsBase;

    /// <param name="create">A freshly initialised network (seeded inside).</param>
    /// <param name="legacyInputs">Every row's network input as one tensor [N, ...] (the old loop's cache).</param>
    /// <param name="labels">Every row's class.</param>
    /// <param name="newBatches">The new core's batches over the same rows, one source per variant timed.</param>
    /// <param name="classNames">The classes.</param>
    /// <param name="batchSize">Rows per step.</param>
    /// <param name="rounds">Epochs timed per core.</param>
    public static StepTimes Measure(Func<IMixtureHeadsNetwork<Tensor>> create, Tensor legacyInputs, long[] labels,
        IReadOnlyList<IBatchSource<ClassificationBatch>> newBatches, IReadOnlyList<string> classNames, int batchSize, int rounds)
    {
        long steps = newBatches[0].BatchesPerEpoch;
        var times = Enumerable.Range(0, newBatches.Count + 1).Select(_ => new List<double>()).ToList();   // [0]: the old loop
        for (int round = 0; round < rounds + 1; round++)   // the first round warms up every variant
        {
            for (int turn = 0; turn <= newBatches.Count; turn++)
            {
                int variant = (turn + round) % (newBatches.Count + 1);
                using var network = create();
                var stepTimes = variant == 0
                    ? OldEpoch(network, legacyInputs, labels, NewRecipe(batchSize, _ => { }), seed: round)
                    : NewEpoch(network, newBatches[variant - 1], classNames, batchSize, round);
                if (round > 0) times[variant].AddRange(stepTimes.Skip(1));
            }
        }
        return new StepTimes(Summary(times[0]), times.Skip(1).Select(Summary).ToList(), steps);
    }

    private static Recipe NewRecipe(int batchSize, Action<TrainingMetrics> callback) => new()
    {
        Epochs = 1, BatchSize = batchSize, LearningRate = 1e-3, WarmupEpochs = 0.3, LogEverySteps = 1, ReportInterval = TimeSpan.MaxValue,
        MetricsCallback = callback,
    };

    /// <summary>Every step's wall time (ms) of one epoch of the new core, from the per-step progress reports.</summary>
    private static List<double> NewEpoch(IMixtureHeadsNetwork<Tensor> network, IBatchSource<ClassificationBatch> batches, IReadOnlyList<string> classNames, int batchSize, int seed)
    {
        var elapsed = new List<double> { 0 };
        var recipe = NewRecipe(batchSize, m => { if (m.Phase == TrainingPhase.Step) elapsed.Add(m.Elapsed.TotalMilliseconds); });
        var objective = new ClassificationObjective(network, classNames, labelSmoothing: 0.1, augment: null, "Score", "Index");
        TrainingLoop.Run(objective, batches, null, new LoopSettings(recipe, seed, CPU));
        return elapsed.Zip(elapsed.Skip(1), (a, b) => b - a).ToList();
    }

    private static StepTime Summary(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return new StepTime(sorted[sorted.Length / 2], sorted.Average());
    }

    /// <summary>Every step's wall time (ms) of one epoch of the replaced loop: randperm over the cached tensor, index_select per batch, and its step.</summary>
    private static List<double> OldEpoch(IMixtureHeadsNetwork<Tensor> network, Tensor inputs, long[] labelArray, Recipe recipe, int seed)
    {
        var model = network.Module;
        manual_seed(seed);
        using var generator = new Generator((ulong)seed);
        using var labels = tensor(labelArray);
        model.train();
        long count = labelArray.Length;
        int stepsPerEpoch = (int)((count + recipe.BatchSize - 1) / recipe.BatchSize);
        var schedule = new LearningRateSchedule(recipe.LearningRate, (int)Math.Round(recipe.WarmupEpochs * stepsPerEpoch), stepsPerEpoch, recipe.MinLearningRateRatio);
        var named = model.named_parameters().ToList();
        bool Decays((string name, Parameter parameter) p) => p.parameter.dim() >= 2 && !p.name.EndsWith("pos_embed", StringComparison.Ordinal);
        using var optimizer = new AdamWOptimizer(
        [
            new(named.Where(Decays).Select(p => p.parameter).ToList(), recipe.WeightDecay),
            new(named.Where(p => !Decays(p)).Select(p => p.parameter).ToList(), WeightDecay: 0),
        ]);
        var stepTimes = new List<double>();
        using var order = randperm(count, generator: generator);
        for (int batch = 0; batch < stepsPerEpoch; batch++)
        {
            long start0 = Stopwatch.GetTimestamp();
            using var scope = NewDisposeScope();
            long start = (long)batch * recipe.BatchSize;
            var indices = order.narrow(0, start, Math.Min(recipe.BatchSize, count - start));
            var x = inputs.index_select(0, indices);
            var y = labels.index_select(0, indices);
            var output = network.forward(x);
            var taskLoss = F.cross_entropy(output.Output, y, label_smoothing: 0.1);
            var loss = output.BalanceLoss is null ? taskLoss : taskLoss.add(output.BalanceLoss, Scalars.Of(recipe.BalanceLossWeight));
            if (!float.IsFinite(loss.item<float>())) throw new InvalidOperationException("diverged");
            optimizer.ZeroGrad();
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), recipe.GradientClipNorm);
            optimizer.Step(schedule.At(batch));
            _ = taskLoss.item<float>() + (output.BalanceLoss?.item<float>() ?? 0) + output.Output.argmax(1).eq(y).sum().item<long>();
            _ = output.HeadGates.Select(g => g.detach().to(ScalarType.Bool).to(ScalarType.Float32).reshape(-1, g.shape[^1]).mean([0]).cpu().data<float>().ToArray()).ToArray();
            stepTimes.Add(Stopwatch.GetElapsedTime(start0).TotalMilliseconds);
        }
        return stepTimes;
    }

    /// <summary>Batches through an input adapter, as a trainer's cached data makes them (bucketed by length when
    /// <paramref name="bucket"/> and the adapter has lengths).</summary>
    public static IBatchSource<ClassificationBatch> Batches<TRow>(IReadOnlyList<TRow> rows, long[] labels, IInputAdapter<TRow> input, int batchSize, bool bucket = true)
    {
        var examples = rows.Zip(labels).ToList();
        var source = ExampleSource<(TRow Input, long Label)>.Create(() => examples, examples.Count, _ => 0, long.MaxValue, bytesPerExample: 0, minimumPool: 1);
        Func<(TRow Input, long Label), int>? lengthOf = bucket && input.LengthOf is { } length ? r => length(r.Input) : null;
        return new BatchSource<(TRow Input, long Label), ClassificationBatch>(source, batchSize, shuffle: true, seed: 1,
            chunk => new ClassificationBatch(input.Collate(chunk.Select(r => r.Input).ToList()), chunk.Select(r => r.Label).ToArray()), lengthOf);
    }
}
