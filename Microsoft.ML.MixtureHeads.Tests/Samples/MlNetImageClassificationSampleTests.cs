using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads;   // was: using Microsoft.ML.Vision;
using Microsoft.ML.MixtureHeads.Datasets;
using Xunit.Abstractions;
using static Microsoft.ML.DataOperationsCatalog;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// ML.NET's own image classification sample (Samples.Dynamic.Trainers.MulticlassClassification.ImageClassification,
/// "ImageClassificationDefault"), as a user would port it: the same steps and helpers, with only the using and the
/// trainer expression changed, on a folder of Fashion-MNIST PNGs instead of the downloaded flower photos. Then the
/// class names are read from <c>Score</c> with <c>GetSlotNames</c>, as ML.NET's docs show for its own trainers.
/// </summary>
public sealed class MlNetImageClassificationSampleTests(ITestOutputHelper output)
{
    [Fact]
    public void The_ML_NET_image_classification_sample_runs_with_only_the_trainer_changed()
    {
        string fullImagesetFolderPath = Directory.CreateTempSubdirectory("mlnet-sample-images-").FullName;
        string outputMlNetModelFilePath = Path.Combine(fullImagesetFolderPath, "imageClassifier.zip");
        try
        {
            FashionMnistData.Read(FashionMnistSplit.Train).Take(400).WriteImageFolder(fullImagesetFolderPath);

            MLContext mlContext = new MLContext(seed: 1);

            IEnumerable<ImageData> images = LoadImagesFromDirectory(folder: fullImagesetFolderPath, useFolderNameAsLabel: true);
            IDataView shuffledFullImagesDataset = mlContext.Data.ShuffleRows(mlContext.Data.LoadFromEnumerable(images));
            shuffledFullImagesDataset = mlContext.Transforms.Conversion
                    .MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
                .Append(mlContext.Transforms.LoadRawImageBytes("Image", fullImagesetFolderPath, "ImagePath"))
                .Fit(shuffledFullImagesDataset)
                .Transform(shuffledFullImagesDataset);

            TrainTestData trainTestData = mlContext.Data.TrainTestSplit(shuffledFullImagesDataset, testFraction: 0.1, seed: 1);
            IDataView trainDataset = trainTestData.TrainSet;
            IDataView testDataset = trainTestData.TestSet;

            var pipeline = mlContext.MulticlassClassification.Trainers
                    .MoHImageClassification(imageColumnName: "Image", validationSet: testDataset, epochs: 3)   // was: .ImageClassification(featureColumnName: "Image", validationSet: testDataset)
                    .Append(mlContext.Transforms.Conversion.MapKeyToValue(outputColumnName: "PredictedLabel", inputColumnName: "PredictedLabel"));

            var trainedModel = pipeline.Fit(trainDataset);
            mlContext.Model.Save(trainedModel, shuffledFullImagesDataset.Schema, outputMlNetModelFilePath);

            ITransformer loadedModel;
            using (var file = File.OpenRead(outputMlNetModelFilePath))
                loadedModel = mlContext.Model.Load(file, out DataViewSchema schema);

            var metrics = EvaluateModel(mlContext, testDataset, loadedModel);
            Assert.InRange(metrics.MicroAccuracy, 0.2, 1.0);   // 10 classes: chance is 0.1
            var prediction = TrySinglePrediction(fullImagesetFolderPath, mlContext, loadedModel);
            Assert.Contains(prediction.PredictedLabel, FashionMnistData.ClassNames.Select((_, k) => FashionMnistData.FolderName(k)));

            // The documented way to know which class each score is for.
            var predictionEngine = mlContext.Model.CreatePredictionEngine<InMemoryImageData, ImagePrediction>(loadedModel);
            VBuffer<ReadOnlyMemory<char>> slotNames = default;
            predictionEngine.OutputSchema["Score"].GetSlotNames(ref slotNames);
            var classes = slotNames.DenseValues().Select(n => n.ToString()).ToArray();
            Assert.Equal(FashionMnistData.ClassNames.Select((_, k) => FashionMnistData.FolderName(k)).Order(StringComparer.Ordinal), classes);
            Assert.Equal(prediction.PredictedLabel, classes[Array.IndexOf(prediction.Score, prediction.Score.Max())]);
        }
        finally
        {
            Directory.Delete(fullImagesetFolderPath, recursive: true);
        }
    }

    private MulticlassClassificationMetrics EvaluateModel(MLContext mlContext, IDataView testDataset, ITransformer trainedModel)
    {
        IDataView predictions = trainedModel.Transform(testDataset);
        var metrics = mlContext.MulticlassClassification.Evaluate(predictions);
        output.WriteLine($"Micro-accuracy: {metrics.MicroAccuracy}, macro-accuracy = {metrics.MacroAccuracy}");
        return metrics;
    }

    private ImagePrediction TrySinglePrediction(string imagesForPredictions, MLContext mlContext, ITransformer trainedModel)
    {
        var predictionEngine = mlContext.Model.CreatePredictionEngine<InMemoryImageData, ImagePrediction>(trainedModel);
        IEnumerable<InMemoryImageData> testImages = LoadInMemoryImagesFromDirectory(imagesForPredictions, false);
        InMemoryImageData imageToPredict = new InMemoryImageData { Image = testImages.First().Image };
        var prediction = predictionEngine.Predict(imageToPredict);
        output.WriteLine($"Scores : [{string.Join(",", prediction.Score)}], Predicted Label : {prediction.PredictedLabel}");
        return prediction;
    }

    private static IEnumerable<InMemoryImageData> LoadInMemoryImagesFromDirectory(string folder, bool useFolderNameAsLabel = true) =>
        Directory.GetFiles(folder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(file => new InMemoryImageData
        {
            Image = File.ReadAllBytes(file),
            Label = useFolderNameAsLabel ? Directory.GetParent(file)!.Name : Path.GetFileNameWithoutExtension(file),
        });

    private static IEnumerable<ImageData> LoadImagesFromDirectory(string folder, bool useFolderNameAsLabel = true) =>
        Directory.GetFiles(folder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(file => new ImageData
        {
            ImagePath = file,
            Label = useFolderNameAsLabel ? Directory.GetParent(file)!.Name : Path.GetFileNameWithoutExtension(file),
        });

    private sealed class ImageData
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class InMemoryImageData
    {
        public byte[] Image { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class ImagePrediction
    {
        [ColumnName("Score")]
        public float[] Score { get; set; } = [];

        [ColumnName("PredictedLabel")]
        public string PredictedLabel { get; set; } = "";
    }
}
