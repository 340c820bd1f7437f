using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Estimators;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Plots;

/// <summary>One short real run for every plot test: a tiny MoH ViT on 600 Fashion-MNIST images for 3 epochs,
/// validated and evaluated on 100 test images, saved and rebuilt from the zip for the head-usage probes.</summary>
public sealed class PlotRunFixture : IDisposable
{
    public PlotRunFixture()
    {
        var ml = new MLContext(seed: 3);
        var train = FashionMnistData.Read(FashionMnistSplit.Train).Take(600).ToDataView(ml);
        TestImages = FashionMnistData.Read(FashionMnistSplit.Test).Take(100).Rows().ToList();
        var test = ml.Data.LoadFromEnumerable(TestImages);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHImageClassification(new MoHImageClassificationTrainer.Options
            {
                ImageColumnName = nameof(FashionMnistImage.Image),
                Model = TinyVisionTransformers.MoH,
                Epochs = 3,
                BatchSize = 32,
                LearningRate = 3e-3,
                WarmupEpochs = 0.5,
                ValidationSet = test,
                LogEverySteps = 5,
                MetricsCallback = Reports.Add,
                Seed = 5,
            }))
            .Fit(train);
        var scored = model.Transform(test);
        Metrics = ml.MulticlassClassification.Evaluate(scored);
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        ClassNames = slots.DenseValues().Select(s => s.ToString()).ToList();
        string zip = Path.Combine(Folder, "model.zip");
        ml.Model.Save(model, train.Schema, zip);
        Network = MixtureHeadsCheckpoint.FromZip(zip).CreateNetwork();
    }

    /// <summary>Where the pictures are left for a person to look at: the test artefacts folder, replaced each run.</summary>
    public string Folder { get; } = TestArtefacts.Folder("plots");
    public List<TrainingMetrics> Reports { get; } = [];
    public MulticlassClassificationMetrics Metrics { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public IReadOnlyList<FashionMnistImage> TestImages { get; }
    public IMixtureHeadsNetwork Network { get; }

    /// <summary>The class index of an image in <see cref="ClassNames"/> order.</summary>
    public int ClassIndex(FashionMnistImage image) => ClassNames.ToList().IndexOf(image.Label);

    public void Dispose()
    {
        Network.Dispose();
    }
}
