using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Plots;
using Microsoft.ML.MixtureHeads.Tests.Estimators;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>An image as the web app's image model reads it.</summary>
public sealed class ImageRow
{
    public byte[] Image { get; set; } = [];
    public string Label { get; set; } = "";
}

/// <summary>A mail as the web app's spam model reads it.</summary>
public sealed class MailRow
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>The class probabilities a model gives.</summary>
public sealed class ScoreRow
{
    public float[] Score { get; set; } = [];
}

/// <summary>Tiny models trained in seconds with the library and saved as the web app expects them: Fashion-MNIST PNG bytes
/// in an <c>Image</c> column, SpamAssassin mails in a <c>Text</c> column; plus a head-usage picture next to the image model.</summary>
internal static class WebAppModels
{
    public static string TrainImageModel(string folder)
    {
        var ml = new MLContext(seed: 11);
        var rows = FashionMnistData.Read(FashionMnistSplit.Train).Take(200).Rows().Select(r => new ImageRow { Image = r.Image, Label = r.Label }).ToList();
        var train = ml.Data.LoadFromEnumerable(rows);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHImageClassification(new MoHImageClassificationTrainer.Options
            {
                ImageColumnName = nameof(ImageRow.Image), Model = TinyVisionTransformers.MoH, Epochs = 1, BatchSize = 32, LearningRate = 3e-3, Seed = 12,
            }))
            .Fit(train);
        string zip = Path.Combine(folder, "image-model.zip");
        ml.Model.Save(model, train.Schema, zip);

        using var network = MixtureHeadsCheckpoint.FromZip(zip).CreateNetwork();
        var test = FashionMnistData.Read(FashionMnistSplit.Test).Take(50).Rows().ToList();
        var classNames = model.LastTransformer.ClassNames;
        var usage = HeadUsageProbe.PerClass(network, test.Select(r => (r.Pixels, classNames.ToList().IndexOf(r.Label))), classNames);
        HeadUsagePlot.SavePerClass(usage, Path.Combine(folder, "head-usage-per-class.png"), width: 1000, height: 500);
        return zip;
    }

    public static string TrainSpamModel(string folder)
    {
        var ml = new MLContext(seed: 13);
        var mails = SpamAssassin.Read().Where((_, i) => i % 16 == 0).Select(m => new MailRow { Text = m.Text, Label = m.Label }).ToList();
        var train = ml.Data.LoadFromEnumerable(mails);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHTextClassification(new MoHTextClassificationTrainer.Options
            {
                TextColumnName = nameof(MailRow.Text), Model = TinyTextEncoders.MoH, Epochs = 1, BatchSize = 32, LearningRate = 3e-3, Seed = 14,
            }))
            .Fit(train);
        string zip = Path.Combine(folder, "spam-model.zip");
        ml.Model.Save(model, train.Schema, zip);
        return zip;
    }
}
