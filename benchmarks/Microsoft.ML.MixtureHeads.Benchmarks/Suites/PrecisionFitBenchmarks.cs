using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using static Microsoft.ML.MixtureHeads.Benchmarks.PrecisionBenchmarks;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Fit of moh_vit_tiny_75 on a Fashion-MNIST subset in fp32 and in bf16 mixed precision, seeds interleaved: training
/// images/s and test accuracy after the same epochs (default 1 epoch on 10,000 images, 3 seeds; --quick 2,000, 1 seed).
/// </summary>
public sealed class PrecisionFitBenchmarks : IBenchmarkSuite
{
    public string Name => "precision-fit";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings) => [Fit(settings)];

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
}
