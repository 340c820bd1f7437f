using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// <c>Score</c> as ML.NET's multiclass trainers shape it: <c>Vector&lt;Single, C&gt;</c> whose slot names are the class
/// names, in the fitted model, a prediction engine and a reloaded zip; also when a class is named like a data column.
/// </summary>
public sealed class ScoreColumnTests
{
    private static readonly FashionMnistData Images = FashionMnistData.Read(FashionMnistSplit.Train).Take(300);

    /// <summary>Fashion-MNIST pixels whose label is renamed by <paramref name="className"/> (string label -> key).</summary>
    private static (MLContext Ml, IDataView Data) Pixels(Func<string, string> className)
    {
        var ml = new MLContext(seed: 4);
        var rows = ml.Data.CreateEnumerable<FashionMnistImage>(Images.ToDataView(ml), reuseRowObject: false)
            .Select(r => new PixelRow { Label = className(r.Label), Pixels = r.Pixels, Note = $"row of {r.Label}" }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        return (ml, ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data));
    }

    private static MoHImageClassificationTrainer.Options Tiny() => new()
    {
        ImageColumnName = nameof(PixelRow.Pixels), Model = TinyVisionTransformers.MoH, Epochs = 1, BatchSize = 100, Seed = 2,
    };

    private static string[] SlotNames(DataViewSchema.Column column)
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        column.GetSlotNames(ref names);
        return names.DenseValues().Select(n => n.ToString()).ToArray();
    }

    [Fact]
    public void Score_is_a_vector_of_class_probabilities_whose_slot_names_are_the_classes_also_after_Load()
    {
        var (ml, data) = Pixels(label => label);
        using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(data);
        var classes = model.ClassNames.ToArray();

        var scored = model.Transform(data);
        Assert.Equal($"Vector<Single, {classes.Length}>", scored.Schema["Score"].Type.ToString());
        Assert.Equal(classes, SlotNames(scored.Schema["Score"]));
        var engine = ml.Model.CreatePredictionEngine<PixelRow, ScoredRow>(model);
        Assert.Equal(classes, SlotNames(engine.OutputSchema["Score"]));

        string zip = Path.Combine(Path.GetTempPath(), $"slots-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, data.Schema, zip);
            using var loaded = (IDisposable)ml.Model.Load(zip, out _);
            var reloaded = ((ITransformer)loaded).Transform(data);
            Assert.Equal(classes, SlotNames(reloaded.Schema["Score"]));
            var batched = scored.GetColumn<float[]>("Score").Take(20).SelectMany(s => s).ToArray();   // ONNX Runtime on batches of rows
            var rowByRow = reloaded.GetColumn<float[]>("Score").Take(20).SelectMany(s => s).ToArray();
            Assert.Equal(batched.Length, rowByRow.Length);
            for (int i = 0; i < batched.Length; i++) Assert.Equal(batched[i], rowByRow[i], 1e-6f);
        }
        finally
        {
            File.Delete(zip);
        }
    }

    [Fact]
    public void A_class_named_like_a_data_column_names_a_slot_and_leaves_the_column_as_it_was()
    {
        // Two classes take the names of the data's own columns: the label and a text column the model never reads.
        var (ml, data) = Pixels(label => label switch { "T-shirt/top" => "Label", "Trouser" => "Note", _ => label });
        using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(data);
        var scored = model.Transform(data);

        Assert.Contains("Label", SlotNames(scored.Schema["Score"]));
        Assert.Contains("Note", SlotNames(scored.Schema["Score"]));
        Assert.Equal(data.Schema["Label"].Type, scored.Schema["Label"].Type);
        Assert.Equal(data.GetColumn<string>("Note"), scored.GetColumn<string>("Note"));
        Assert.Equal(data.GetColumn<uint>("Label"), scored.GetColumn<uint>("Label"));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Assert.Equal(10, metrics.ConfusionMatrix.NumberOfClasses);
    }

    [Fact]
    public void A_class_named_like_the_score_column_is_refused_before_training()
    {
        var (ml, data) = Pixels(label => label == "Bag" ? "Score" : label);
        var error = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(data));
        Assert.Contains("'Score'", error.Message);
        Assert.Contains("Label column 'Label'", error.Message);
    }

    private sealed class PixelRow
    {
        public string Label { get; set; } = "";

        [VectorType(28, 28)]
        public float[] Pixels { get; set; } = [];

        public string Note { get; set; } = "";
    }

    private sealed class ScoredRow
    {
        public float[] Score { get; set; } = [];
    }
}
