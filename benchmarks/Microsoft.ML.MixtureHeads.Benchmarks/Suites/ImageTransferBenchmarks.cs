using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Small image sets, as users have them: Fashion-MNIST folders of 30 and 100 PNGs per class, scored on 1,000 held-out
/// test images. The MoH hybrid (MoH blocks on ImageNet ResNet-18, its last stage fine-tuned) against ML.NET's standard transfer
/// pipeline on the same pretrained network (<c>DnnFeaturizeImage</c> ResNet-18 + <c>LbfgsMaximumEntropy</c>), the
/// classic raw-pixel <c>LbfgsMaximumEntropy</c>, and the from-scratch MoH-ViT. The MoH hybrid over 3 seeds (1 with --quick).
/// </summary>
public sealed class ImageTransferBenchmarks : IBenchmarkSuite
{
    public string Name => "transfer-image";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        int[] seeds = settings.Quick ? [1] : [1, 2, 3];
        int testCount = settings.Quick ? 300 : 1000;
        string root = Directory.CreateTempSubdirectory("mixtureheads-transfer-").FullName;
        try
        {
            var ml = new MLContext(seed: 1);
            var test = ml.Data.LoadFromEnumerable(Folder(FashionMnistData.Read(FashionMnistSplit.Test).Take(testCount), Path.Combine(root, "test")));
            var tables = new List<BenchTable>();
            foreach (int perClass in settings.Quick ? new[] { 30 } : [30, 100])
            {
                var train = ml.Data.LoadFromEnumerable(Folder(FashionMnistData.Read(FashionMnistSplit.Train).Balanced(perClass), Path.Combine(root, $"train{perClass}")));
                var table = new BenchTable($"Fashion-MNIST folder, {perClass * 10} training images ({perClass} per class), {testCount:N0} test images, {settings.Threads} thread(s)",
                    "model", "seeds", "accuracy", "macro F1", "train wall time");
                Report(table, "ML.NET DnnFeaturizeImage ResNet-18 + LbfgsMaximumEntropy", [1], _ => MlNetTransfer(ml), train, test);
                Report(table, "ML.NET LbfgsMaximumEntropy on raw pixels", [1], _ => MlNetRawPixels(ml), train, test);
                Report(table, "moh_hybrid_resnet18_75 (pretrained trunk, last stage fine-tuned)", seeds, seed => Ours(ml, "moh_hybrid_resnet18_75", seed, settings.Epochs ?? 15, null), train, test);
                Report(table, "moh_hybrid_resnet18_100 (the same with dense attention)", [1], seed => Ours(ml, "moh_hybrid_resnet18_100", seed, settings.Epochs ?? 15, null), train, test);
                Report(table, "moh_vit_tiny_75 (from scratch)", [1], seed => Ours(ml, "moh_vit_tiny_75", seed, settings.Epochs ?? 30, 1e-3), train, test);
                tables.Add(table);
            }
            return tables;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Our trainer with its defaults except epochs, batch 32, label smoothing 0.1 and, when given, the learning
    /// rate (a hybrid left at the default trains at <c>PretrainedLearningRate</c>).</summary>
    private static IEstimator<ITransformer> Ours(MLContext ml, string architecture, int seed, int epochs, double? learningRate) =>
        ml.Transforms.LoadRawImageBytes("Image", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MoHImageClassifier(new MoHImageClassificationTrainer.Options
            {
                Architecture = architecture, Epochs = epochs, BatchSize = 32, LearningRate = learningRate ?? 1e-3, Seed = seed, LabelSmoothing = 0.1,
            }));

    /// <summary>ML.NET's documented transfer-learning featurizer on the same ImageNet ResNet-18, then its multiclass trainer.</summary>
    private static IEstimator<ITransformer> MlNetTransfer(MLContext ml) =>
        ml.Transforms.LoadImages("Loaded", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.ResizeImages("Resized", 224, 224, "Loaded"))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Resized"))
            .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"));

    private static IEstimator<ITransformer> MlNetRawPixels(MLContext ml) =>
        ml.Transforms.LoadImages("Loaded", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.ResizeImages("Resized", 28, 28, "Loaded"))
            .Append(ml.Transforms.ConvertToGrayscale("Gray", "Resized"))
            .Append(ml.Transforms.ExtractPixels("Features", "Gray", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1 / 255f))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "Features"));

    private static void Report(BenchTable table, string name, int[] seeds, Func<int, IEstimator<ITransformer>> pipeline, IDataView train, IDataView test)
    {
        var (accuracy, f1, wall) = (new List<double>(), new List<double>(), new List<double>());
        var ml = new MLContext(seed: 1);
        foreach (int seed in seeds)
        {
            var clock = Stopwatch.StartNew();
            var model = pipeline(seed).Fit(train);
            wall.Add(clock.Elapsed.TotalSeconds);
            var scoring = Stopwatch.StartNew();
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
            Console.Error.WriteLine($"  {name}, seed {seed}: accuracy {metrics.MicroAccuracy:P2}, fit {wall[^1]:F0} s, scoring {scoring.Elapsed.TotalSeconds:F0} s");
            accuracy.Add(metrics.MicroAccuracy);
            f1.Add(ClassificationQuality.MacroF1(metrics));
            (model as IDisposable)?.Dispose();
        }
        table.Add(name, seeds.Length, Spread(accuracy, 100, "F1"), Spread(f1, 100, "F1"), Spread(wall, 1, "F0") + " s");
    }

    /// <summary>"mean" for one value, else "mean ± half the range" (min-max), scaled.</summary>
    private static string Spread(List<double> values, double scale, string format) => values.Count == 1
        ? (values[0] * scale).ToString(format, System.Globalization.CultureInfo.InvariantCulture)
        : $"{(values.Average() * scale).ToString(format, System.Globalization.CultureInfo.InvariantCulture)} ± {((values.Max() - values.Min()) / 2 * scale).ToString(format, System.Globalization.CultureInfo.InvariantCulture)}";

    private static IEnumerable<ImageFile> Folder(FashionMnistData images, string directory) =>
        images.WriteImageFolder(directory).Select(path => new ImageFile { ImagePath = path, Label = Path.GetFileName(Path.GetDirectoryName(path)!) }).ToList();

    private sealed class ImageFile
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
