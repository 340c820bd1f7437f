using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// bf16 mixed precision against fp32 on this CPU: GEMM throughput of each, the moh_vit_tiny_75 training step in each,
/// and Fit on a Fashion-MNIST subset in each (training images/s, test accuracy), interleaved so load lands on both.
/// </summary>
public sealed class PrecisionBenchmarks : IBenchmarkSuite
{
    private static readonly (string Name, ScalarType? Compute)[] Precisions = [("fp32", null), ("bf16", ScalarType.BFloat16)];

    public string Name => "precision";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings) => [Gemm(settings), Step(settings), Fit(settings)];

    /// <summary>GFLOP/s of a square mm and of a ViT-shaped linear (batch 128 x 49 tokens, d 192 -> 576), each precision.</summary>
    private static BenchTable Gemm(BenchSettings settings)
    {
        var table = new BenchTable($"GEMM throughput, {settings.Threads} thread(s) (GFLOP/s, median)", "shape", "fp32", "bf16", "bf16 / fp32");
        using var scope = NewDisposeScope();
        manual_seed(0);
        foreach (var (name, m, k, n) in new[] { ("mm 1024 x 1024 x 1024", 1024L, 1024L, 1024L), ("linear [6272, 192] x [192, 576]", 6272L, 192L, 576L) })
        {
            var a = randn(m, k);
            var b = randn(n, k);
            double[] gflops = Precisions.Select(p =>
            {
                var (x, w) = p.Compute is ScalarType c ? (a.to(c), b.to(c)) : (a, b);
                double ms = Stopwatches.MedianMilliseconds(() => { using var s = NewDisposeScope(); F.linear(x, w); }, warmup: 2, iterations: settings.Quick ? 5 : 15);
                return 2.0 * m * k * n / (ms * 1e6);
            }).ToArray();
            table.Add(name, gflops[0], gflops[1], $"{gflops[1] / gflops[0]:F2}x");
        }
        return table;
    }

    /// <summary>One optimizer step of moh_vit_tiny_75 on the same batch of 128 in each precision, interleaved.</summary>
    private static BenchTable Step(BenchSettings settings)
    {
        var table = new BenchTable("moh_vit_tiny_75 training step, batch 128 (ms, median of interleaved rounds)",
            "precision", "forward ms", "step ms (forward, backward, AdamW)", "images/s", "vs fp32 (step)");
        manual_seed(0);
        using var scope = NewDisposeScope();
        var images = rand(128, 1, 28, 28) * 255;
        var labels = randint(0, 10, [128]);
        var config = ModelRegistry.Get<VisionTransformerConfig>("moh_vit_tiny_75");
        using var network = new MoHVisionTransformer(config);
        using var optimizer = new AdamWOptimizer([new(network.parameters().ToList(), WeightDecay: 0.05)]);
        network.train();
        Action Forward(ScalarType? compute) => () =>
        {
            using var precision = MixedPrecision.Use(compute);
            using var stepScope = NewDisposeScope();
            using var noGrad = no_grad();
            network.forward(images);
        };
        Action TrainStep(ScalarType? compute) => () =>
        {
            using var precision = MixedPrecision.Use(compute);
            using var stepScope = NewDisposeScope();
            var output = network.forward(images);
            var loss = F.cross_entropy(output.Output, labels).add(output.BalanceLoss!, Scalars.Of(0.01));
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.Step(1e-4);
        };
        var actions = Precisions.Select(p => Forward(p.Compute)).Concat(Precisions.Select(p => TrainStep(p.Compute))).ToList();
        var times = Stopwatches.InterleavedMedianMilliseconds(actions, warmup: 2, rounds: settings.Quick ? 3 : 9);
        for (int i = 0; i < Precisions.Length; i++)
        {
            double step = times[Precisions.Length + i].Wall;
            table.Add(Precisions[i].Name, times[i].Wall, step, 128 * 1000.0 / step, $"{step / times[Precisions.Length].Wall:F3}x");
        }
        table.Notes.Add("bf16: linear layers, stacked experts and attention in bf16 on fp32 master weights; norms, softmax, routers, loss and AdamW in fp32.");
        return table;
    }

    /// <summary>Fit of moh_vit_tiny_75 on a subset in each precision, seeds interleaved: training images/s and test accuracy.</summary>
    private static BenchTable Fit(BenchSettings settings)
    {
        int epochs = settings.Epochs ?? 1, trainCount = settings.Quick ? 2000 : 10000, testCount = settings.Quick ? 1000 : 10000;
        int[] seeds = settings.Quick ? [1] : [1, 2, 3];
        var ml = new MLContext(seed: 1);
        var train = FashionMnistData.Read(FashionMnistSplit.Train).Take(trainCount).ToDataView(ml);
        var test = FashionMnistData.Read(FashionMnistSplit.Test).Take(testCount).ToDataView(ml);
        var table = new BenchTable($"Fit moh_vit_tiny_75: {trainCount:N0} training images, {epochs} epoch(s), test on {testCount:N0}, {settings.Threads} thread(s)",
            "precision", "seed", "test accuracy", "images/s (train)", "Fit wall time");
        var results = Precisions.ToDictionary(p => p.Name, _ => new List<(double Accuracy, double Speed)>());
        foreach (int seed in seeds)
            foreach (var (name, compute) in Precisions)
            {
                var reports = new List<TrainingMetrics>();
                var options = new MoHImageClassificationTrainer.Options
                {
                    ImageColumnName = nameof(FashionMnistImage.Pixels),
                    Architecture = "moh_vit_tiny_75",
                    Epochs = epochs,
                    BatchSize = 128,
                    LearningRate = 3e-3,
                    WarmupEpochs = 0.3,
                    HorizontalFlip = true,
                    Seed = seed,
                    Precision = compute is null ? TrainingPrecision.Float32 : TrainingPrecision.BFloat16,
                    MetricsCallback = m => { reports.Add(m); Console.Error.WriteLine($"  {name} seed {seed}: {m}"); },
                };
                var clock = Stopwatch.StartNew();
                using var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHImageClassifier(options)).Fit(train);
                var wall = clock.Elapsed;
                double accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
                double speed = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).Average(r => r.SamplesPerSecond);
                results[name].Add((accuracy, speed));
                table.Add(name, seed, $"{accuracy:P2}", speed, $"{wall:mm\\:ss}");
            }
        foreach (var (name, _) in Precisions)
        {
            var r = results[name];
            table.Add(name, "mean", $"{r.Average(x => x.Accuracy):P2} (spread {r.Max(x => x.Accuracy) - r.Min(x => x.Accuracy):P2})", r.Average(x => x.Speed), "");
        }
        table.Notes.Add($"Load average at the end: {LoadAverage()} (a shared machine: compare the two precisions, measured interleaved, not the absolute figures).");
        return table;
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
