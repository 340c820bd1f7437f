using Microsoft.ML.MixtureHeads.Estimators;
using Xunit.Abstractions;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// The product path end to end on real images: PNG folder -> LoadRawImageBytes / LoadImages -> MapValueToKey -> our
/// trainer; evaluate with ML.NET; save; load in other processes that call nothing of ours and predict the same.
/// </summary>
public sealed class ImageClassificationEndToEndTests(ImageFolderFixture fixture, ITestOutputHelper output) : IClassFixture<ImageFolderFixture>
{
    /// <summary>Loads a saved .zip and writes every test row's scores (float32, row-major), then prints the predicted class
    /// names and, on a second line, the slot names of Score (ML.NET's GetSlotNames idiom).</summary>
    internal const string ScoringProgram = """
        using Microsoft.ML;
        using Microsoft.ML.Data;
        var ml = new MLContext();
        using var model = (TransformerChain<ITransformer>)ml.Model.Load(args[0], out _);
        var rows = File.ReadAllLines(args[1]).Select(l => l.Split('\t')).Select(p => new ImageFile { ImagePath = p[0], Label = p[1] });
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
        using (var writer = new BinaryWriter(File.Create(args[2])))
            foreach (var score in scored.GetColumn<float[]>("Score")) foreach (var v in score) writer.Write(v);
        var names = ml.Transforms.Conversion.MapKeyToValue("Name", "PredictedLabel").Fit(scored).Transform(scored);
        Console.WriteLine(string.Join("|", names.GetColumn<string>("Name")));
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        Console.WriteLine(string.Join("|", slots.DenseValues()));
        public class ImageFile { public string ImagePath { get; set; } = ""; public string Label { get; set; } = ""; }
        """;

    private IDataView TestData(MLContext ml) => ml.Data.LoadFromEnumerable(fixture.TestFiles);

    [Fact]
    public void Evaluation_with_the_ML_NET_evaluator_is_well_above_chance()
    {
        var ml = fixture.MLContext;
        var metrics = ml.MulticlassClassification.Evaluate(fixture.BytesModel.Transform(TestData(ml)));
        Assert.InRange(metrics.MicroAccuracy, 0.45, 1.0); // 10 balanced classes: chance is 0.1
        Assert.Equal(10, metrics.ConfusionMatrix.NumberOfClasses);
        Assert.True(double.IsFinite(metrics.LogLoss));
    }

    [Fact]
    public void Predicted_label_is_a_key_that_maps_back_to_the_class_names()
    {
        var ml = fixture.MLContext;
        var scored = fixture.BytesModel.Transform(TestData(ml));
        var key = Assert.IsType<KeyDataViewType>(scored.Schema["PredictedLabel"].Type);
        Assert.Equal(10UL, key.Count);
        Assert.Equal(scored.Schema["Label"].Type, key); // same key type as the label: predicted key k is label key k

        var named = ml.Transforms.Conversion.MapKeyToValue("Name", "PredictedLabel").Fit(scored).Transform(scored);
        var names = named.GetColumn<string>("Name").ToList();
        var scores = scored.GetColumn<float[]>("Score").ToList();
        var classes = FashionMnistData.ClassNames.Select((_, k) => FashionMnistData.FolderName(k)).ToHashSet();
        var classNames = ImageFolderFixture.Trained(fixture.BytesModel).ClassNames;
        for (int i = 0; i < names.Count; i++)
        {
            Assert.Contains(names[i], classes);
            Assert.Equal(classNames[Array.IndexOf(scores[i], scores[i].Max())], names[i]);
            Assert.Equal(1.0, scores[i].Sum(), 4);
        }
    }

    [Fact]
    public void Batched_transform_equals_the_saved_row_by_row_chain_and_the_prediction_engine()
    {
        var ml = fixture.MLContext;
        var trained = ImageFolderFixture.Trained(fixture.BytesModel);
        var batched = fixture.BytesModel.Transform(TestData(ml)).GetColumn<float[]>("Score").ToList();

        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(fixture.BytesZip, out _);
        var rowByRow = loaded.Transform(TestData(ml)).GetColumn<float[]>("Score").ToList();
        Assert.Equal(ImageFolderFixture.TestImages, batched.Count);
        for (int i = 0; i < batched.Count; i++)
            for (int c = 0; c < 10; c++) Assert.Equal(rowByRow[i][c], batched[i][c], 1e-5f);

        var engine = ml.Model.CreatePredictionEngine<ImageFile, ScoreRow>(fixture.BytesModel);
        var first = engine.Predict(fixture.TestFiles[0]);
        Assert.Equal(rowByRow[0], first.Score);
        Assert.True(trained.ScoringBatchSize > 1);
    }

    [Fact]
    public void A_child_process_that_calls_nothing_of_ours_predicts_bit_identically_and_matches_TorchSharp()
    {
        using var child = ChildProject.DeployedScorer("bytes-scoring", ScoringProgram);
        var (childScores, childNames, slotNames) = ScoreInChild(child, fixture.BytesZip);
        long published = child.PublishedSize();
        output.WriteLine($"publish folder of the scorer (linux-x64, framework-dependent): {published / (1 << 20)} MB");
        Assert.InRange(published, 1, 100L << 20);   // ONNX Runtime and SkiaSharp natives; libtorch alone would be over 1 GB

        var inProcess = ScoreInProcess(fixture.BytesZip);
        Assert.Equal(inProcess, childScores); // bit-identical: the same standard stages and ONNX graph

        AssertMatchesTheNetwork(fixture.BytesModel, childScores);
        Assert.Equal(fixture.TestPixels.Count, childNames.Length);
        Assert.Equal(ImageFolderFixture.Trained(fixture.BytesModel).ClassNames, slotNames);
    }

    /// <summary>Scores from a reloaded zip are within 1e-4 of the trained TorchSharp network on the same pixels.</summary>
    private void AssertMatchesTheNetwork(TransformerChain<MoHImageClassificationTransformer> fitted, float[] scores)
    {
        var network = ImageFolderFixture.Trained(fitted).Network;
        using var scope = NewDisposeScope();
        var pixels = stack(Enumerable.Range(0, fixture.TestPixels.Count)
            .Select(i => tensor(fixture.TestPixels.Pixels(i).ToArray().Select(p => (float)p).ToArray(), [1, 28, 28])).ToList());
        using var noGrad = no_grad();
        var reference = softmax(network.forward(pixels).Output, 1);
        ParityAssert.Close("reloaded scores vs TorchSharp forward", reference, tensor(scores).reshape(fixture.TestPixels.Count, 10), new Tolerance("1e-4", 0, 1e-4));
    }

    [Fact]
    public void A_child_process_with_the_scoring_package_alone_runs_the_LoadImages_pipeline()
    {
        using var child = ChildProject.DeployedScorer("images-scoring", ScoringProgram);
        var (childScores, _, slotNames) = ScoreInChild(child, fixture.ImagesZip);
        Assert.Equal(ScoreInProcess(fixture.ImagesZip), childScores);
        AssertMatchesTheNetwork(fixture.ImagesModel, childScores);
        Assert.Equal(ImageFolderFixture.Trained(fixture.ImagesModel).ClassNames, slotNames);
    }

    private (float[] Scores, string[] Names, string[] SlotNames) ScoreInChild(ChildProject child, string zip)
    {
        string rows = Path.Combine(child.Directory, "rows.tsv"), scores = Path.Combine(child.Directory, "scores.bin");
        File.WriteAllLines(rows, fixture.TestFiles.Select(f => $"{f.ImagePath}\t{f.Label}"));
        string[] lines = child.Run(zip, rows, scores).Trim().Split('\n');
        byte[] bytes = File.ReadAllBytes(scores);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return (values, lines[^2].Trim().Split('|'), lines[^1].Trim().Split('|'));
    }

    private float[] ScoreInProcess(string zip)
    {
        var ml = new MLContext();
        using var model = (TransformerChain<ITransformer>)ml.Model.Load(zip, out _);
        return model.Transform(TestData(ml)).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
