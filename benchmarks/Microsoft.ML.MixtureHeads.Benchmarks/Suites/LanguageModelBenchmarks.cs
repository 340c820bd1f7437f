using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Suites;

/// <summary>
/// The byte-level MoH language model on Brown: training tokens/s of each feed-forward kind of the tiny preset (dense
/// SwiGLU, SMoE, fine-grained SMoE, MH-MoE h=2 and h=3, MH-MoE h=2 with BitNet b1.58), generation tokens/s with and
/// without the key/value cache in TorchSharp and in ONNX Runtime, and the validation perplexity of the default
/// architecture after a fixed number of steps (load-independent, unlike the speeds).
/// </summary>
public sealed class LanguageModelBenchmarks : IBenchmarkSuite
{
    private const int Window = 128, Batch = 16;

    private static readonly string[] FeedForwards =
        ["moh_lm_tiny_75", "moh_lm_tiny_75_smoe", "moh_lm_tiny_75_fgmoe", "moh_lm_tiny_75_mhmoe2", "moh_lm_tiny_75_mhmoe3", "moh_lm_tiny_75_mhmoe2_bitnet"];

    /// <inheritdoc />
    public string Name => "lm";

    /// <inheritdoc />
    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";
        var codec = new ByteTokenizer();
        var (train, validation) = BrownCorpus.Split(BrownCorpus.Read(), validationFraction: 0.1);
        long[] Stream(IEnumerable<BrownDocument> documents) => [.. documents.SelectMany(d => codec.Encode(d.Text).Append(ByteTokenizer.EndOfText))];
        long[] trainTokens = Stream(train);
        long[] validationTokens = [.. Stream(validation).Take(settings.Quick ? 20_000 : 200_000)];
        string note = $"Load average at start (1, 5, 15 min, /proc/loadavg): {load}; {settings.Threads} threads, {Environment.ProcessorCount} cores.";
        return [Training(settings, trainTokens, note), Generation(settings, note), Perplexity(settings, trainTokens, validationTokens, note)];
    }

    private static MoHCausalLM Model(string architecture)
    {
        manual_seed(1);
        return (MoHCausalLM)ModelRegistry.Create(ModelRegistry.Get<CausalLMConfig>(architecture) with { VocabularySize = ByteTokenizer.VocabularySize });
    }

    private static CausalLMTrainingOptions Recipe(int steps) => new()
    {
        SequenceLength = Window, BatchSize = Batch, Epochs = 1, LearningRate = 3e-3, WarmupEpochs = Math.Min(0.1, 20.0 / steps), WeightDecay = 0.01,
        Seed = 1, Device = "cpu", LogEverySteps = int.MaxValue, ReportInterval = TimeSpan.FromHours(1),
    };

    /// <summary>The first <paramref name="steps"/> batches' worth of the stream (one epoch is exactly that many steps).</summary>
    private static long[] Steps(long[] tokens, int steps) => tokens[..(steps * Batch * Window + 1)];

    private static BenchTable Training(BenchSettings settings, long[] tokens, string note)
    {
        int steps = settings.Quick ? 4 : 20;
        var table = new BenchTable($"Training throughput, byte-level tiny LM on Brown ({Batch} x {Window} tokens per step, {steps} timed steps after 3 warm-up steps)",
            "architecture", "feed-forward", "parameters", "tokens/s", "ms/step");
        foreach (string architecture in FeedForwards)
        {
            using var model = Model(architecture);
            CausalLMTraining.Train(model, Steps(tokens, 3), null, Recipe(3));
            var clock = Stopwatch.StartNew();
            CausalLMTraining.Train(model, Steps(tokens, steps), null, Recipe(steps));
            double seconds = clock.Elapsed.TotalSeconds;
            var config = model.Config;
            string feedForward = config.MoE is { } moe
                ? $"{moe.Experts} experts x {moe.ExpertHidden}, top-{moe.TopK}, h={moe.Heads}{(config.Linear == Layers.LinearKind.BitLinear ? ", BitNet" : "")}, every {config.MoEInterval}nd block"
                : "dense SwiGLU";
            table.Add(architecture, feedForward, model.parameters().Sum(p => p.numel()).ToString("N0", CultureInfo.InvariantCulture),
                steps * Batch * Window / seconds, 1000 * seconds / steps);
        }
        table.Notes.Add(note);
        table.Notes.Add("Wall time of CausalLMTraining.Train (forward, backward, AdamW, clipping) on the CPU; a shared machine slows every row.");
        return table;
    }

    private static BenchTable Generation(BenchSettings settings, string note)
    {
        int newTokens = settings.Quick ? 16 : 128, rounds = settings.Quick ? 1 : 3;
        var table = new BenchTable($"Generation, moh_lm_tiny_75 (untrained weights), 16-byte prompt, {newTokens} new tokens greedy (median of {rounds})",
            "engine", "KV cache", "tokens/s", "ms/token", "same tokens as TorchSharp cached");
        using var model = Model("moh_lm_tiny_75");
        model.eval();
        var prompt = new ByteTokenizer().Encode("The jury said it");
        using var onnx = new OnnxCausalLM(CausalLMDecoderOnnx.Export(model, new ByteTokenizer()));
        var generator = new CausalLMGenerator(model);
        long[]? reference = null;
        foreach (var (engine, useCache) in new[] { ("TorchSharp", true), ("TorchSharp", false), ("ONNX Runtime", true), ("ONNX Runtime", false) })
        {
            var options = new GenerationOptions { MaxNewTokens = newTokens, Temperature = 0, UseCache = useCache };
            long[] tokens = [];
            double milliseconds = Stopwatches.MedianMilliseconds(() =>
            {
                tokens = engine == "TorchSharp" ? [.. generator.GenerateTokens(prompt, options)] : [.. onnx.GenerateTokens(prompt, options)];
            }, warmup: 1, iterations: rounds);
            reference ??= tokens;
            table.Add(engine, useCache ? "yes" : "no (full recompute)", tokens.Length * 1000 / milliseconds, milliseconds / tokens.Length,
                tokens.SequenceEqual(reference) ? "yes" : "NO");
        }
        table.Notes.Add(note);
        table.Notes.Add("Untrained weights give the same work per token as trained ones; greedy decoding, batch 1.");
        return table;
    }

    private static BenchTable Perplexity(BenchSettings settings, long[] trainTokens, long[] validationTokens, string note)
    {
        int steps = settings.Quick ? 10 : 300;
        const string architecture = "moh_lm_tiny_75";
        var table = new BenchTable($"Validation perplexity on Brown (held-out genres' texts, {validationTokens.Length:N0} bytes), {architecture} after {steps} steps",
            "architecture", "steps", "training tokens", "perplexity before", "perplexity after", "training minutes");
        using var model = Model(architecture);
        double before = CausalLMTraining.Perplexity(model, validationTokens, Window);
        var clock = Stopwatch.StartNew();
        CausalLMTraining.Train(model, Steps(trainTokens, steps), null, Recipe(steps));
        double minutes = clock.Elapsed.TotalMinutes;
        table.Add(architecture, steps, steps * Batch * Window, before, CausalLMTraining.Perplexity(model, validationTokens, Window), minutes);
        table.Notes.Add(note);
        table.Notes.Add($"Byte-level (257 ids), windows of {Window}, batch {Batch}, AdamW 3e-3 with warmup and cosine decay, seed 1: the perplexity does not depend on the machine's load.");
        return table;
    }
}
