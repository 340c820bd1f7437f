// Fashion-MNIST with a Mixture-of-Head attention vision transformer, as an ordinary ML.NET pipeline:
// train (live progress), evaluate on the 10,000 test images, save the .zip, load it in a fresh MLContext and predict.
// Writes the model and its pictures (training curves, confusion matrix, head usage) to --output.
//   ./build.sh demo [--epochs 9] [--minutes M] [--architecture moh_vit_mini_75] [--train-images 60000] [--output DIR]
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Training;

var minutesOption = new Option<double?>("--minutes")
{
    Description = "Also stop training after this many minutes, even if epochs remain (default: no time limit; the progress lines show the ETA)",
    CustomParser = InvariantDouble, // "2.5" whatever the machine's culture
};
var architectureOption = new Option<string>("--architecture") { Description = "The vision transformer", DefaultValueFactory = _ => "moh_vit_mini_75" };
var epochsOption = new Option<int>("--epochs") { Description = "Passes over the training images", DefaultValueFactory = _ => 9 };
var trainImagesOption = new Option<int>("--train-images") { Description = "Train on the first N training images", DefaultValueFactory = _ => 60_000 };
var outputOption = new Option<string>("--output")
{
    Description = "Folder for the saved model and its pictures",
    DefaultValueFactory = _ => Path.Combine(Path.GetTempPath(), "fashion-mnist-moh-vit"),
};
var command = new RootCommand("Fashion-MNIST with a Mixture-of-Head attention vision transformer")
{
    minutesOption, architectureOption, epochsOption, trainImagesOption, outputOption,
};
var parsed = command.Parse(args);
if (parsed.Action is not null) return parsed.Invoke(); // --help, or a usage error: printed, exit code 1
double? minutes = parsed.GetValue(minutesOption);
string architecture = parsed.GetValue(architectureOption)!;
int epochs = parsed.GetValue(epochsOption);
int trainImages = parsed.GetValue(trainImagesOption);
string output = Directory.CreateDirectory(parsed.GetValue(outputOption)!).FullName;

var mlContext = new MLContext(seed: 1);
// The trainer's progress (reading the data, steps, epochs) as it logs it to the MLContext.
mlContext.Log += (_, e) =>
{
    if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.StartsWith("MoHImageClassification", StringComparison.Ordinal))
        Console.WriteLine($"{DateTime.Now:HH:mm:ss} {e.RawMessage}");
};
Console.WriteLine("Reading Fashion-MNIST from Debian's dataset-fashion-mnist...");
var train = FashionMnistData.Read(FashionMnistSplit.Train).Take(trainImages).ToDataView(mlContext);
var testData = FashionMnistData.Read(FashionMnistSplit.Test);
var test = testData.ToDataView(mlContext);
var reports = new List<TrainingMetrics>();

// The images enter as encoded PNG bytes, exactly what LoadRawImageBytes gives for a folder of image files.
var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
    .Append(mlContext.MoHImageClassifier(new MoHImageClassificationTrainer.Options
    {
        ImageColumnName = nameof(FashionMnistImage.Image),
        Architecture = architecture,
        Epochs = epochs,
        BatchSize = 128,
        LearningRate = 3e-3,
        WarmupEpochs = 0.3,
        MaxTrainingTime = minutes is { } m ? TimeSpan.FromMinutes(m) : null, // optional: the schedule is planned for the epochs
        ValidationSet = test, // raw class names are fine: they are matched to the training classes
        LogEverySteps = 50,
        MetricsCallback = reports.Add, // for the training curves
    }));

Console.WriteLine($"Training {architecture} for {epochs} epochs{(minutes is { } limit ? $" (at most {limit} minutes)" : "")}, validating on the test images after each...");
var model = pipeline.Fit(train);

var scored = model.Transform(test);
var metrics = mlContext.MulticlassClassification.Evaluate(scored);
Console.WriteLine($"Test accuracy on the 10,000 test images: {metrics.MicroAccuracy:P2} (macro {metrics.MacroAccuracy:P2}, log-loss {metrics.LogLoss:F4})");

string path = Path.Combine(output, "model.zip");
mlContext.Model.Save(model, train.Schema, path);
Console.WriteLine($"Saved {path} ({new FileInfo(path).Length / 1024.0:F0} KiB)");

var fresh = new MLContext();
var loaded = fresh.Model.Load(path, out _);
var withNames = loaded.Append(fresh.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(loaded.Transform(test)));
var engine = fresh.Model.CreatePredictionEngine<FashionMnistImage, Prediction>(withNames);
Console.WriteLine("A few test images, predicted by the reloaded model:");
foreach (var image in mlContext.Data.CreateEnumerable<FashionMnistImage>(test, reuseRowObject: false).Take(8))
{
    var prediction = engine.Predict(image);
    Console.WriteLine($"  true {image.Label,-12} predicted {prediction.PredictedClass,-12} p={prediction.Score.Max():P1}");
}

var usage = model.LastTransformer.TrainingSummary.Epochs.LastOrDefault()?.HeadUsage;
if (usage is not null)
{
    Console.WriteLine("Share of tokens using each head in the last epoch (shared heads first):");
    for (int layer = 0; layer < usage.Count; layer++)
        Console.WriteLine($"  block {layer}: {string.Join(" ", usage[layer].Select(u => u.ToString("P0", CultureInfo.InvariantCulture).PadLeft(5)))}");
}
foreach (string picture in Pictures.Write(output, reports, metrics, scored, path, testData.Take(500).Rows().ToList()))
    Console.WriteLine($"Wrote {picture}");
return 0;

static double? InvariantDouble(ArgumentResult result)
{
    string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
    if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return value;
    result.AddError($"Cannot parse argument '{text}' for option '--minutes' as a number.");
    return 0;
}

/// <summary>What the reloaded model gives back for one image.</summary>
internal sealed class Prediction
{
    public string PredictedClass { get; set; } = "";
    public float[] Score { get; set; } = [];
}
