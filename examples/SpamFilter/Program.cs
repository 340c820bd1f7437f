// Spam filtering on the real SpamAssassin corpus with a Mixture-of-Head attention text classifier, as an ordinary
// ML.NET pipeline: split, train (live progress), evaluate with ML.NET's evaluator (accuracy, macro F1, confusion
// matrix), save the .zip, reload it in a fresh MLContext and classify a few new messages.
//   dotnet run -c Release --project examples/SpamFilter [-- --architecture moh_text_tiny_75 --epochs 3]
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;

string architecture = "moh_text_tiny_75";
int epochs = 3;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--architecture") architecture = args[++i];
    else if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
}

var mlContext = new MLContext(seed: 1);
var mails = SpamAssassin.Load(mlContext);
var split = mlContext.Data.TrainTestSplit(mails, testFraction: 0.2, seed: 1);
Console.WriteLine($"SpamAssassin: {split.TrainSet.GetRowCount() ?? mlContext.Data.CreateEnumerable<SpamAssassinMessage>(split.TrainSet, false).Count()} training mails.");

var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
    .Append(mlContext.MoHTextClassifier(new MoHTextClassificationTrainer.Options
    {
        TextColumnName = nameof(SpamAssassinMessage.Text),
        Architecture = architecture,
        Epochs = epochs,
        BatchSize = 32,
        LearningRate = 1e-3,
        WarmupEpochs = 0.3,
        LogEverySteps = 40,
        MetricsCallback = m => Console.WriteLine(m),
    }));
var model = pipeline.Fit(split.TrainSet);

var metrics = mlContext.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
var matrix = metrics.ConfusionMatrix;
double macroF1 = Enumerable.Range(0, matrix.NumberOfClasses)
    .Select(c => (P: matrix.PerClassPrecision[c], R: matrix.PerClassRecall[c]))
    .Average(x => x.P + x.R == 0 ? 0 : 2 * x.P * x.R / (x.P + x.R));
Console.WriteLine($"Held-out accuracy {metrics.MicroAccuracy:P2}, macro F1 {macroF1:P2}");
Console.WriteLine(matrix.GetFormattedConfusionTable());

string path = Path.Combine(Path.GetTempPath(), "spam-filter-moh.zip");
mlContext.Model.Save(model, split.TrainSet.Schema, path);
Console.WriteLine($"Saved {path} ({new FileInfo(path).Length / 1024.0:F0} KiB)");

var fresh = new MLContext();
var loaded = fresh.Model.Load(path, out _);
var examples = new[]
{
    new SpamAssassinMessage { Text = "Re: patch for the build script\nThanks, I merged your fix into CVS; the nightly build is green again." },
    new SpamAssassinMessage { Text = "LIMITED TIME OFFER!!! Earn $5000 a week from home. Click here to claim your FREE trial now!" },
    new SpamAssassinMessage { Text = "Lunch on Friday?\nAre you still up for lunch on Friday near the office? Let me know." },
    new SpamAssassinMessage { Text = "Your account has been selected for a cash prize. Reply with your bank details to receive the money." },
};
var scored = loaded.Transform(fresh.Data.LoadFromEnumerable(examples));
var named = fresh.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(scored).Transform(scored);
foreach (var (text, name) in examples.Select(e => e.Text).Zip(named.GetColumn<string>("PredictedName")))
    Console.WriteLine($"  {name,-4}  {text.Split('\n')[0]}");
File.Delete(path);
