using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Platform;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Vision;

/// <summary>
/// The MoH paper's vision claims at small scale: dense vs MoH-75 vs MoH-50 vision transformers of one size at the same
/// training budget, and the ablation of the paper's Table 5 on MoH-75 (neither shared heads nor two-stage routing;
/// shared heads without two-stage routing; both), 3 seeds each, on Fashion-MNIST with the demo's recipe. Writes the
/// table and docs/images/vision-claims.png (--quick: one seed on 2,000 images, the PNG to benchmarks/results).
/// </summary>
public sealed class VisionClaimsBenchmarks : IBenchmarkSuite
{
    public string Name => "vision-claims";

    private static VisionTransformerConfig Registered(string name) => ModelRegistry.Get<VisionTransformerConfig>(name);

    /// <summary>The variants: a label, whether it is an ablation row (second colour), the architecture.</summary>
    private static readonly (string Name, bool Ablation, VisionTransformerConfig Config)[] Variants =
    [
        ("dense (moh_vit_tiny_100)", false, Registered("moh_vit_tiny_100")),
        ("MoH-75 (moh_vit_tiny_75)", false, Registered("moh_vit_tiny_75")),
        ("MoH-50 (moh_vit_tiny_50)", false, Registered("moh_vit_tiny_50")),
        ("MoH-75, no shared heads, no two-stage (top-6 of 8)", true, Registered("moh_vit_tiny_75") with { SharedHeads = 0, RoutedTopK = 6 }),
        ("MoH-75, shared heads, no two-stage", true, Registered("moh_vit_tiny_75") with { TwoStageRouting = false }),
    ];

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        int epochs = settings.Epochs ?? (settings.Quick ? 1 : 2);
        int[] seeds = settings.Quick ? [1] : [1, 2, 3];
        var trainData = FashionMnistData.Read(FashionMnistSplit.Train).Take(settings.Quick ? 2_000 : 10_000);
        var testData = FashionMnistData.Read(FashionMnistSplit.Test);
        if (settings.Quick) testData = testData.Take(1_000);
        var ml = new MLContext(seed: 1);
        var train = FashionRecipe.WithoutImageBytes(ml, trainData.ToDataView(ml));
        var test = FashionRecipe.WithoutImageBytes(ml, testData.ToDataView(ml));

        var accuracy = Variants.Select(_ => new List<double>()).ToList();
        var seconds = Variants.Select(_ => new List<double>()).ToList();
        foreach (int seed in seeds)   // seeds outermost, so a change of machine load spreads over every variant
        {
            for (int v = 0; v < Variants.Length; v++)
            {
                var options = FashionRecipe.Options("", Variants[v].Config, epochs, seed, m => Console.Error.WriteLine($"  {Variants[v].Name}, seed {seed}: {m}"));
                var clock = Stopwatch.StartNew();
                using var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHImageClassifier(options)).Fit(train);
                seconds[v].Add(clock.Elapsed.TotalSeconds);
                accuracy[v].Add(100 * ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy);
                Console.Error.WriteLine($"{Variants[v].Name}, seed {seed}: {accuracy[v][^1]:F2} % in {seconds[v][^1]:F0} s");
            }
        }

        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        var table = new BenchTable($"Fashion-MNIST test accuracy (%), {trainData.Count:N0} training / {testData.Count:N0} test images, {epochs} epoch(s), {seeds.Length} seed(s), {settings.Threads} thread(s)",
            "variant", "active heads", "accuracy (mean ± sd)", "per seed", "vs dense (mean)", "Fit seconds (mean)");
        var statistics = accuracy.Select(a => new SeedStatistics(a)).ToList();
        for (int v = 0; v < Variants.Length; v++)
            table.Add(Variants[v].Name, $"{Variants[v].Config.ActiveHeadPercent} %", statistics[v].Format(), statistics[v].List(),
                (statistics[v].Mean - statistics[0].Mean).ToString("+0.00;-0.00", CultureInfo.InvariantCulture), seconds[v].Average());
        table.Notes.Add($"Recipe for all: {FashionRecipe.Description}. Same data order and initial weights per seed where the shapes agree. " +
                        $"Number format: the trainers' default ({(BFloat16Support.FastOnCpu ? "bf16 mixed precision on this CPU" : "fp32 on this CPU")}).");
        table.Notes.Add("Paper (MoH-ViT-S, ImageNet, 100 epochs, Table 5): neither shared heads nor two-stage 75.6, + shared heads 78.3, + two-stage routing 78.6; MoH-75 and MoH-50 at or above the dense TransNeXt baseline.");
        table.Notes.Add($"Load average at the end: {load}.");

        string images = settings.Quick ? Path.Combine(settings.RepositoryRoot, "benchmarks", "results") : Path.Combine(settings.RepositoryRoot, "docs", "images");
        ClaimPlots.SeedBars($"Fashion-MNIST test accuracy, {trainData.Count:N0} images x {epochs} epoch(s) ({seeds.Length} seed(s), mean ± sd)", "test accuracy (%)",
            Variants.Select((variant, v) => (variant.Name, statistics[v], variant.Ablation)).ToList(), Path.Combine(images, "vision-claims.png"));
        return [table];
    }
}
