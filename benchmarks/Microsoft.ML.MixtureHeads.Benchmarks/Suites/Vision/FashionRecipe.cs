using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Vision;

/// <summary>The demo's Fashion-MNIST recipe (examples/FashionMnistDemo), which the vision suites train with.</summary>
internal static class FashionRecipe
{
    public const int BatchSize = 128;
    public const double LearningRate = 3e-3;
    public const double WarmupEpochs = 0.3;

    public const string Description = "AdamW lr 3e-3, weight decay 0.05 on matrices, batch 128, warmup 0.3 epoch then cosine to 1%, " +
                                      "label smoothing 0.1, gradient clipping 1.0, balance weight 0.01, no augmentation";

    /// <summary>Trainer options for a registered architecture or a custom <paramref name="model"/>, one seed.</summary>
    public static MoHImageClassificationTrainer.Options Options(string architecture, VisionTransformerConfig? model, int epochs, int seed, Action<TrainingMetrics> report) => new()
    {
        ImageColumnName = nameof(FashionMnistImage.Pixels),
        Architecture = architecture,
        Model = model,
        Epochs = epochs,
        BatchSize = BatchSize,
        LearningRate = LearningRate,
        WarmupEpochs = WarmupEpochs,
        LogEverySteps = 100,
        Seed = seed,
        MetricsCallback = report,
    };

    /// <summary>The data without its encoded image bytes (the pixels column is what the trainer reads).</summary>
    public static IDataView WithoutImageBytes(MLContext ml, IDataView data) =>
        ml.Transforms.DropColumns(nameof(FashionMnistImage.Image)).Fit(data).Transform(data);
}
