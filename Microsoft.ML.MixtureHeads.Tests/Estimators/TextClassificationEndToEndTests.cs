using Microsoft.ML.MixtureHeads.Scoring;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Tests.Text;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>The text product path on real SpamAssassin mails: split, fit, evaluate, save, reload in another process.</summary>
public sealed class TextClassificationEndToEndTests
{
    private sealed class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>Loads a saved .zip, scores the texts in a JSON file, writes the scores (float32) and prints the predicted names.</summary>
    internal const string ScoringProgram = """
        using System.Text.Json;
        using Microsoft.ML;
        using Microsoft.ML.Data;
        var ml = new MLContext();
        using var model = (TransformerChain<ITransformer>)ml.Model.Load(args[0], out _);
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(args[1]))!;
        var scored = model.Transform(ml.Data.LoadFromEnumerable(texts.Select(t => new Mail { Text = t, Label = "ham" })));
        using (var writer = new BinaryWriter(File.Create(args[2])))
            foreach (var score in scored.GetColumn<float[]>("Score")) foreach (var v in score) writer.Write(v);
        var names = ml.Transforms.Conversion.MapKeyToValue("Name", "PredictedLabel").Fit(scored).Transform(scored);
        Console.WriteLine(string.Join("|", names.GetColumn<string>("Name")));
        public class Mail { public string Text { get; set; } = ""; public string Label { get; set; } = ""; }
        """;

    [Fact]
    public void Spam_filter_fits_evaluates_saves_and_predicts_identically_in_a_child_process()
    {
        var ml = new MLContext(seed: 2);
        var mails = SpamAssassin.Read().Where((_, i) => i % 4 == 0).Select(m => new Mail { Text = m.Text, Label = m.Label }).ToList();
        var split = ml.Data.TrainTestSplit(ml.Data.LoadFromEnumerable(mails), testFraction: 0.25, seed: 3);
        var reports = new List<TrainingMetrics>();
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHTextClassification(new MoHTextClassificationTrainer.Options
            {
                Model = TinyTextEncoders.MoH,
                Epochs = 3,
                BatchSize = 32,
                LearningRate = 3e-3,
                WarmupEpochs = 0.3,
                Seed = 4,
                MetricsCallback = reports.Add,
            }));
        using var model = pipeline.Fit(split.TrainSet);

        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
        Assert.InRange(metrics.MicroAccuracy, 0.85, 1.0); // about a third of the mails are spam
        Assert.Equal(2, metrics.ConfusionMatrix.NumberOfClasses);

        // Texts longer than the max length, an empty text and words no mail contains.
        string[] texts =
        [
            .. ml.Data.CreateEnumerable<Mail>(split.TestSet, reuseRowObject: false).Take(30).Select(m => m.Text),
            "", "Zqxjv wkhpt floopdeeblarg snorkelwump", string.Concat(Enumerable.Repeat(mails[5].Text, 40)),
        ];
        string work = Directory.CreateTempSubdirectory("mixtureheads-text-e2e-").FullName;
        try
        {
            string zip = Path.Combine(work, "spam.zip"), textsFile = Path.Combine(work, "texts.json"), scoresFile = Path.Combine(work, "scores.bin");
            ml.Model.Save(model, split.TrainSet.Schema, zip);
            File.WriteAllText(textsFile, JsonSerializer.Serialize(texts));

            using var child = ChildProject.DeployedScorer("text-scoring", ScoringProgram);
            string[] childNames = child.Run(zip, textsFile, scoresFile).Trim().Split('|');
            float[] childScores = ReadFloats(scoresFile);

            var fresh = new MLContext();
            using var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
            var rows = fresh.Data.LoadFromEnumerable(texts.Select(t => new Mail { Text = t, Label = "ham" }));
            Assert.Equal(loaded.Transform(rows).GetColumn<float[]>("Score").SelectMany(s => s).ToArray(), childScores);
            Assert.Equal(texts.Length, childNames.Length);
            Assert.All(childNames, n => Assert.Contains(n, new[] { "spam", "ham" }));

            // within 1e-4 of the TorchSharp network on the same token ids
            var network = model.LastTransformer.Network;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var ids = TokenBatch.StageIds(texts.Select(TextTokenIds.Encode).ToList(), maxLength: 4096);
            var reference = softmax(network.forward(ids).Output, 1);
            ParityAssert.Close("child scores vs TorchSharp forward", reference, tensor(childScores).reshape(texts.Length, 2), new Tolerance("1e-4", 0, 1e-4));

            // the in-process batched Transform agrees with the saved row-by-row chain
            var batched = model.Transform(rows).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
            for (int i = 0; i < batched.Length; i++) Assert.Equal(childScores[i], batched[i], 1e-5f);
        }
        finally { Directory.Delete(work, recursive: true); }
        Assert.Contains(reports, r => r.Phase == TrainingPhase.EpochEnd && r.Epoch == 3);
    }

    /// <summary>Loads a saved sentence-pair .zip, scores the (subject, body) pairs of a JSON file and writes the scores.</summary>
    private const string PairScoringProgram = """
        using System.Text.Json;
        using Microsoft.ML;
        using Microsoft.ML.Data;
        var ml = new MLContext();
        using var model = (TransformerChain<ITransformer>)ml.Model.Load(args[0], out _);
        var pairs = JsonSerializer.Deserialize<string[][]>(File.ReadAllText(args[1]))!;
        var scored = model.Transform(ml.Data.LoadFromEnumerable(pairs.Select(p => new Pair { Subject = p[0], Body = p[1], Label = "ham" })));
        using (var writer = new BinaryWriter(File.Create(args[2])))
            foreach (var score in scored.GetColumn<float[]>("Score")) foreach (var v in score) writer.Write(v);
        public class Pair { public string Subject { get; set; } = ""; public string Body { get; set; } = ""; public string Label { get; set; } = ""; }
        """;

    private sealed class Pair
    {
        public string Subject { get; set; } = "";
        public string Body { get; set; } = "";
        public string Label { get; set; } = "";
    }

    [Fact]
    public void A_sentence_pair_model_deploys_to_an_app_with_the_scoring_package_only()
    {
        var ml = new MLContext(seed: 5);
        var pairs = SpamAssassin.Read().Where((_, i) => i % 12 == 0).Select(m => new Pair { Subject = m.Subject, Body = m.Body, Label = m.Label }).ToList();
        var data = ml.Data.LoadFromEnumerable(pairs);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHTextClassifier(new()
        {
            TextColumnName = nameof(Pair.Subject), SecondTextColumnName = nameof(Pair.Body), Model = TinyTextEncoders.MoH, Epochs = 1, Seed = 6,
        }));
        string work = Directory.CreateTempSubdirectory("mixtureheads-pair-e2e-").FullName;
        try
        {
            string zip = Path.Combine(work, "pairs.zip"), pairsFile = Path.Combine(work, "pairs.json"), scoresFile = Path.Combine(work, "scores.bin");
            using (var model = pipeline.Fit(data)) ml.Model.Save(model, data.Schema, zip);
            var probe = pairs.Take(25).Select(p => new[] { p.Subject, p.Body }).Append(["", ""]).ToArray();
            File.WriteAllText(pairsFile, JsonSerializer.Serialize(probe));

            using var child = ChildProject.DeployedScorer("pair-scoring", PairScoringProgram);
            child.Run(zip, pairsFile, scoresFile);

            var fresh = new MLContext();
            using var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(zip, out _);
            var rows = fresh.Data.LoadFromEnumerable(probe.Select(p => new Pair { Subject = p[0], Body = p[1], Label = "ham" }));
            Assert.Equal(loaded.Transform(rows).GetColumn<float[]>("Score").SelectMany(s => s).ToArray(), ReadFloats(scoresFile));
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    private static float[] ReadFloats(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
