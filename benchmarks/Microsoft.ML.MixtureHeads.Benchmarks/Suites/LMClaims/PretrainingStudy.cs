using System.Globalization;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>Test accuracy over seeds of one way to start the SpamAssassin classifier with one number of labels.</summary>
internal sealed record PretrainingRow(string Start, int Labels, SeedStatistics Accuracy, SeedStatistics MacroF1);

/// <summary>
/// Pretraining that pays off: the SpamAssassin classifier (<see cref="LMTextClassifier"/>: the LM's embeddings and
/// blocks, mean pooling, a new head; mails read as bytes) started from the Brown-pretrained MoH LM against the same
/// architecture from random weights, with the same recipe (the pretrained start also at 1e-4, the BERT start's default
/// rate), on 200 and 1,000 labelled mails and 600 fixed held-out ones;
/// ML.NET's FeaturizeText + SDCA as the reference.
/// </summary>
internal static class PretrainingStudy
{
    public const int HeldOut = 600;
    private const string RandomStart = "same network from random weights";

    /// <summary>Each start with its fine-tuning learning rate: the random start at the trainer's default (1e-3), the
    /// pretrained one at that rate and at 1e-4 (<c>PretrainedLearningRate</c>, which LM starts used until this study).</summary>
    private static readonly (string Start, double LearningRate)[] Starts =
    [
        (RandomStart, 1e-3), ("MoH LM pretrained on Brown, fine-tuned", 1e-3), ("MoH LM pretrained on Brown, fine-tuned", 1e-4),
    ];

    public static int Epochs(int labels) => labels <= 200 ? 10 : 5;

    public static List<PretrainingRow> Run(MoHCausalLM pretrained, IReadOnlyList<int> labelCounts, IReadOnlyList<int> seeds, string scratchFolder)
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(11);
        var mails = SpamAssassin.Read().Select(m => new Mail { Text = m.Text, Label = m.Label }).OrderBy(_ => random.Next()).ToList();
        var test = ml.Data.LoadFromEnumerable(mails.Take(HeldOut).ToList());
        var pool = mails.Skip(HeldOut).ToList();

        string pretrainedFolder = Path.Combine(scratchFolder, "pretrained");
        CausalLMCheckpoint.Save(pretrained, pretrainedFolder);
        var rows = new List<PretrainingRow>();
        foreach (int labels in labelCounts)
        {
            var train = ml.Data.LoadFromEnumerable(pool.Take(labels).ToList());
            var sdca = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.Text.FeaturizeText("Features", nameof(Mail.Text)))
                .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy()).Fit(train);
            var (sdcaAccuracy, sdcaF1) = Score(ml, sdca, test);
            rows.Add(new PretrainingRow("FeaturizeText + SDCA (ML.NET, deterministic)", labels, new([sdcaAccuracy]), new([sdcaF1])));

            foreach (var (start, learningRate) in Starts)
            {
                bool fromBrown = start != RandomStart;
                var accuracies = new List<double>();
                var f1s = new List<double>();
                foreach (int seed in seeds)
                {
                    string folder = pretrainedFolder;
                    if (!fromBrown)
                    {
                        folder = Path.Combine(scratchFolder, $"random-{seed}");
                        using var fresh = LMRecipe.Create(pretrained.Config, seed);
                        CausalLMCheckpoint.Save(fresh, folder);
                    }
                    var fitted = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MoHTextClassification(new MoHTextClassificationTrainer.Options
                    {
                        TextColumnName = nameof(Mail.Text), LanguageModelCheckpoint = folder, Epochs = Epochs(labels), BatchSize = 16,
                        LearningRate = learningRate, WarmupEpochs = 1, Seed = seed, Device = "cpu",
                    })).Fit(train);
                    var (accuracy, f1) = Score(ml, fitted, test);
                    (fitted as IDisposable)?.Dispose();
                    accuracies.Add(accuracy);
                    f1s.Add(f1);
                    Console.Error.WriteLine($"  spam classifier, {labels} labels, {start}, lr {learningRate}, seed {seed}: accuracy {accuracy:P2}");
                }
                rows.Add(new PretrainingRow($"{start}, lr {learningRate.ToString(CultureInfo.InvariantCulture)}", labels, new(accuracies), new(f1s)));
            }
        }
        return rows;
    }

    private static (double Accuracy, double MacroF1) Score(MLContext ml, ITransformer model, IDataView test)
    {
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        return (metrics.MicroAccuracy, ClassificationQuality.MacroF1(metrics));
    }

    private sealed class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }
}
