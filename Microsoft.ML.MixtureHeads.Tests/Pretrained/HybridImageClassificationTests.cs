using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Estimators;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>A hybrid (MoH blocks on the pretrained ResNet-18) fitted once on a small real image folder, for the test class.</summary>
public sealed class HybridFixture : IDisposable
{
    public HybridFixture()
    {
        Root = Directory.CreateTempSubdirectory("mixtureheads-hybrid-").FullName;
        TrainFiles = Folder(FashionMnistData.Read(FashionMnistSplit.Train).Balanced(10), Path.Combine(Root, "train"));
        TestFiles = Folder(FashionMnistData.Read(FashionMnistSplit.Test).Take(60), Path.Combine(Root, "test"));
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(TrainFiles);
        Model = ml.Transforms.LoadRawImageBytes("Image", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MoHImageClassifier(new MoHImageClassificationTrainer.Options
            {
                Architecture = "moh_hybrid_resnet18_75", ImageSize = 64, Epochs = 8, BatchSize = 25, Seed = 1,
                MetricsCallback = m => Reports.Add(m),
            }))
            .Fit(train);
        Zip = Path.Combine(Root, "hybrid.zip");
        ml.Model.Save(Model, train.Schema, Zip);
    }

    public string Root { get; }
    public IReadOnlyList<ImageFile> TrainFiles { get; }
    public IReadOnlyList<ImageFile> TestFiles { get; }
    public TransformerChain<MoHImageClassificationTransformer> Model { get; }
    public string Zip { get; }
    public List<Microsoft.ML.MixtureHeads.Training.TrainingMetrics> Reports { get; } = [];

    public MoHHybridVisionTransformer Network => (MoHHybridVisionTransformer)Model.LastTransformer.Network;

    private static List<ImageFile> Folder(FashionMnistData data, string folder) =>
        data.WriteImageFolder(folder).Select(path => new ImageFile { ImagePath = path, Label = Path.GetFileName(Path.GetDirectoryName(path))! }).ToList();

    public void Dispose()
    {
        Model.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>
/// The pretrained start for images end to end: a hybrid fits on a real PNG folder with its trunk frozen and cached,
/// learns, saves, and scores in a child process that references only the scoring package, equal to in-process scoring
/// and to the TorchSharp network; a missing weights package is a clear error before any data is read.
/// </summary>
public sealed class HybridImageClassificationTests(HybridFixture fixture) : IClassFixture<HybridFixture>
{
    [Fact]
    public void The_frozen_stages_stay_pretrained_the_last_stage_and_the_blocks_learn()
    {
        using var scope = NewDisposeScope();
        var config = (HybridVisionTransformerConfig)fixture.Network.Config;
        Assert.Equal(1, config.TrainableTrunkStages);
        using var pretrained = new MoHHybridVisionTransformer(config);
        PretrainedResNet18.LoadInto(pretrained);
        var trained = fixture.Network.trunk.state_dict();
        string lastStage = $"stages.{config.TrunkStages - 1}.";
        foreach (var (name, value) in pretrained.trunk.state_dict().Where(e => !e.Key.StartsWith(lastStage, StringComparison.Ordinal)))
            Assert.True(value.allclose(trained[name], rtol: 0, atol: 0), $"trunk.{name} changed in training");
        Assert.Contains(pretrained.trunk.named_parameters().Where(p => p.name.StartsWith(lastStage, StringComparison.Ordinal)),
            p => !p.parameter.allclose(trained[p.name], rtol: 0, atol: 0));

        var epochs = fixture.Reports.Where(r => r.Phase == Microsoft.ML.MixtureHeads.Training.TrainingPhase.EpochEnd).ToList();
        Assert.Equal(8, epochs.Count);
        Assert.True(epochs[^1].Loss < 0.7 * epochs[0].Loss, $"train loss {epochs[0].Loss} -> {epochs[^1].Loss}");

        var ml = new MLContext(seed: 1);
        var metrics = ml.MulticlassClassification.Evaluate(fixture.Model.Transform(ml.Data.LoadFromEnumerable(fixture.TestFiles)));
        Assert.True(metrics.MicroAccuracy > 0.35, $"test accuracy {metrics.MicroAccuracy:P1} of 10 classes from 100 training images");
    }

    [Fact]
    public void A_child_process_with_the_scoring_package_alone_scores_what_TorchSharp_computes()
    {
        using var child = ChildProject.DeployedScorer("hybrid-scoring", ImageClassificationEndToEndTests.ScoringProgram);
        string rows = Path.Combine(child.Directory, "rows.tsv"), scores = Path.Combine(child.Directory, "scores.bin");
        File.WriteAllLines(rows, fixture.TestFiles.Select(f => $"{f.ImagePath}\t{f.Label}"));
        child.Run(fixture.Zip, rows, scores);
        byte[] bytes = File.ReadAllBytes(scores);
        var childScores = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, childScores, 0, bytes.Length);

        var ml = new MLContext();
        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(fixture.Zip, out _);
        var inProcess = loaded.Transform(ml.Data.LoadFromEnumerable(fixture.TestFiles)).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
        Assert.Equal(inProcess, childScores);

        using var scope = NewDisposeScope();
        var pixels = stack(fixture.TestFiles.Select(f => PixelsOf(f.ImagePath)).ToList());      // [N, 3, 64, 64]
        using var noGrad = no_grad();
        fixture.Network.eval();
        var reference = softmax(fixture.Network.forward(pixels).Output, 1);
        ParityAssert.Close("child scores vs TorchSharp", reference, tensor(childScores).reshape(fixture.TestFiles.Count, 10), new Tolerance("1e-4", 0, 1e-4));
    }

    /// <summary>A PNG as the saved chain reads it: decoded, resized to 64x64, RGB planes 0-255.</summary>
    private static Tensor PixelsOf(string path)
    {
        var ml = new MLContext();
        var view = ml.Transforms.LoadImages("Loaded", imageFolder: null, inputColumnName: "Path")
            .Append(ml.Transforms.ResizeImages("Resized", 64, 64, "Loaded", Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Resized"))
            .Fit(ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = path } }))
            .Transform(ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = path } }));
        return tensor(view.GetColumn<float[]>("Pixels").Single(), [3, 64, 64]);
    }

    [Fact]
    public void Without_the_weights_package_fit_fails_naming_it_before_reading_data()
    {
        string empty = Directory.CreateTempSubdirectory("mixtureheads-no-weights-").FullName;
        try
        {
            var ml = new MLContext(seed: 1);
            var trainer = ml.MoHImageClassifier(new MoHImageClassificationTrainer.Options { Architecture = "moh_hybrid_resnet18_75", PretrainedWeightsFolder = empty });
            var data = ml.Transforms.LoadRawImageBytes("Image", null, nameof(ImageFile.ImagePath)).Append(ml.Transforms.Conversion.MapValueToKey("Label"))
                .Fit(ml.Data.LoadFromEnumerable(fixture.TrainFiles)).Transform(ml.Data.LoadFromEnumerable(fixture.TrainFiles));
            var error = Assert.Throws<FileNotFoundException>(() => trainer.Fit(data));
            Assert.Contains(PretrainedResNet18.PackageName, error.Message);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
