using System.Collections.Concurrent;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Long runs that would show a leak: 10,000 training steps of a tiny MoH-ViT with the process RSS and the live tensor
/// count sampled (growth after warm-up should stay under 50 MB), and one loaded .zip scoring 100,000 predictions on 8
/// threads with RSS sampled and every score compared with single-threaded scoring (--quick: a tenth of both).
/// </summary>
internal sealed class SoakBenchmarks : IBenchmarkSuite
{
    private const int Side = 8, Rows = 640, BatchSize = 32, ScoringThreads = 8;

    public string Name => "soak";

    private static readonly VisionTransformerConfig Tiny = new()
    {
        ImageSize = Side, PatchSize = 4, Stem = ImageStem.Patch, Dim = 32, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2, Classes = 4,
    };

    public IReadOnlyList<BenchTable> Run(BenchSettings settings) =>
        [Training(settings.Quick ? 1_000 : 10_000), Scoring(settings.Quick ? 10_000 : 100_000)];

    private sealed class TrainingOptions : TrainerOptionsBase;

    private sealed class PixelRow
    {
        public string Label { get; set; } = "";

        [VectorType(1, Side, Side)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    private static List<PixelRow> Data(int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, Rows).Select(i => new PixelRow
        {
            Label = $"c{i % 4}",
            Pixels = Enumerable.Range(0, Side * Side).Select(j => (float)((j * (i % 4 + 1)) % 255) + random.NextSingle() * 50).ToArray(),
        }).ToList();
    }

    private static double RssMegabytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Environment.WorkingSet / 1048576.0;
    }

    private static BenchTable Training(int steps)
    {
        int stepsPerEpoch = Rows / BatchSize, sampleEvery = steps / 10, warmup = steps / 10;
        var rows = Data(1);
        var input = new PixelInput("Pixels", [1, Side, Side]);
        var examples = ExampleSource<(float[] Pixels, long Label)>.Create(() => rows.Select((r, i) => (r.Pixels, (long)(i % 4))), Rows, _ => 0, long.MaxValue, 0, 1);
        var batches = new BatchSource<(float[] Pixels, long Label), ClassificationBatch>(examples, BatchSize, shuffle: true, seed: 1,
            chunk => new ClassificationBatch(input.Collate(chunk.Select(r => r.Pixels).ToList()), chunk.Select(r => r.Label).ToArray()));
        var samples = new List<(int Step, double Rss, long Tensors)>();
        var options = new TrainingOptions
        {
            Epochs = steps / stepsPerEpoch, BatchSize = BatchSize, LearningRate = 1e-3, LogEverySteps = sampleEvery, ReportInterval = TimeSpan.FromDays(1),
            MetricsCallback = m => { if (m.Phase == TrainingPhase.Step) samples.Add((m.Step, RssMegabytes(), Tensor.TotalCount)); },
        };
        manual_seed(1);
        using var network = new MoHVisionTransformer(Tiny);
        var objective = new ClassificationObjective(network, ["c0", "c1", "c2", "c3"], labelSmoothing: 0, augment: null, "Score", "Index");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TrainingLoop.Run(objective, batches, null, new LoopSettings(options, 1, CPU));
        double seconds = clock.Elapsed.TotalSeconds;

        var table = new BenchTable($"Training soak: {steps:N0} steps of a tiny MoH-ViT (d=32, 2 blocks, batch {BatchSize})", "step", "RSS MB", "live tensors");
        foreach (var (step, rss, tensors) in samples) table.Add(step, rss, tensors);
        var afterWarmup = samples.Where(s => s.Step >= warmup).ToList();
        double growth = afterWarmup.Max(s => s.Rss) - afterWarmup[0].Rss;
        table.Notes.Add($"RSS growth after step {afterWarmup[0].Step}: {growth:F1} MB (target < 50 MB); live tensors {afterWarmup[0].Tensors} -> {afterWarmup[^1].Tensors}; {steps / seconds:F0} steps/s.");
        return table;
    }

    private static BenchTable Scoring(int predictions)
    {
        var ml = new MLContext(seed: 1);
        var rows = Data(2);
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new MoHImageClassificationTrainer.Options { ImageColumnName = "Pixels", Model = Tiny with { Classes = 10 }, Epochs = 1, BatchSize = BatchSize, Seed = 1 };
        string zip = Path.Combine(Path.GetTempPath(), $"soak-{Guid.NewGuid():N}.zip");
        try
        {
            using (var fitted = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHImageClassifier(options)).Fit(data))
                ml.Model.SaveAtomically(fitted, data.Schema, zip);
            var model = ml.Model.Load(zip, out _);
            float[][] expected;
            using (var single = ml.Model.CreatePredictionEngine<PixelRow, ScoreRow>(model, new PredictionEngineOptions { OwnsTransformer = false }))
                expected = rows.Select(r => single.Predict(r).Score.ToArray()).ToArray();

            var table = new BenchTable($"Scoring soak: one loaded .zip, {ScoringThreads} threads, {predictions:N0} predictions", "predictions", "RSS MB");
            table.Add(0, RssMegabytes());
            int done = 0, mismatches = 0, perThread = predictions / ScoringThreads, sampleEvery = predictions / 10;
            var samples = new ConcurrentQueue<(int, double)>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Parallel.For(0, ScoringThreads, new ParallelOptions { MaxDegreeOfParallelism = ScoringThreads }, thread =>
            {
                using var engine = ml.Model.CreatePredictionEngine<PixelRow, ScoreRow>(model, new PredictionEngineOptions { OwnsTransformer = false });
                for (int i = 0; i < perThread; i++)
                {
                    int row = (thread * 7919 + i) % rows.Count;
                    if (!engine.Predict(rows[row]).Score.AsSpan().SequenceEqual(expected[row])) Interlocked.Increment(ref mismatches);
                    int total = Interlocked.Increment(ref done);
                    if (total % sampleEvery == 0) samples.Enqueue((total, Environment.WorkingSet / 1048576.0));
                }
            });
            double seconds = clock.Elapsed.TotalSeconds;
            foreach (var (count, rss) in samples.OrderBy(s => s.Item1)) table.Add(count, rss);
            table.Add($"{done} (after GC)", RssMegabytes());
            table.Notes.Add($"{mismatches} of {done:N0} scores differ from single-threaded scoring (bitwise); {done / seconds:F0} predictions/s.");
            (model as IDisposable)?.Dispose();
            return table;
        }
        finally { File.Delete(zip); }
    }
}
