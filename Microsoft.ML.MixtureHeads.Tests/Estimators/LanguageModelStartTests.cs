using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Models;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Tests.Persistence;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// Pretrain, then classify: <see cref="MoHTextClassificationTrainer.Options.LanguageModelCheckpoint"/> starts the text
/// classifier from a byte-level LM checkpoint folder (news vs romance snippets of the Brown corpus); the saved zip scores
/// the same in an app that references only the scoring package.
/// </summary>
public sealed class LanguageModelStartTests
{
    private sealed class Snippet
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private static readonly Lazy<List<Snippet>> Snippets = new(() => BrownCorpus.Read()
        .Where(d => d.Genre is "news" or "romance")
        .SelectMany(d => Enumerable.Range(0, 4).Select(i => new Snippet { Text = d.Text.Substring(400 * i, 120), Label = d.Genre }))
        .ToList());

    private static (ITransformer Model, MoHTextClassificationTransformer Classifier) Fit(MLContext ml, IDataView data, string checkpoint, double learningRate, int epochs)
    {
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHTextClassification(new MoHTextClassificationTrainer.Options
            {
                LanguageModelCheckpoint = checkpoint, Epochs = epochs, BatchSize = 16, LearningRate = learningRate, WarmupEpochs = 0, Seed = 3,
                WeightDecay = 0, Device = "cpu",
            }));
        var model = pipeline.Fit(data);
        return (model, model.LastTransformer);
    }

    [Fact]
    public void A_classifier_started_from_an_LM_checkpoint_begins_from_its_weights_trains_and_saves()
    {
        using var folder = new TemporaryFolder();
        using (var lm = LMTextClassifierTests.ByteLM(4)) CausalLMCheckpoint.Save(lm, folder.Path);
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Snippets.Value);
        var source = CausalLMCheckpoint.Load(folder.Path).state_dict();

        // A learning rate too small to move anything: the encoder is still the LM's, weight for weight.
        var (_, still) = Fit(ml, data, folder.Path, learningRate: 1e-12, epochs: 1);
        var network = Assert.IsType<LMTextClassifier>(still.Network);
        foreach (var (name, value) in source)
            ParityAssert.Close($"start: {name}", value, network.state_dict()[name], new Tolerance("1e-6", 0, 1e-6));

        // A real learning rate: the encoder moves and the training snippets are told apart clearly better than by the majority class.
        var (model, trained) = Fit(ml, data, folder.Path, learningRate: 3e-3, epochs: 3);
        var moved = trained.Network.Module.state_dict();
        Assert.Contains(source.Keys, name => !source[name].allclose(moved[name], rtol: 0, atol: 1e-4));
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data));
        double majority = Snippets.Value.GroupBy(s => s.Label).Max(g => g.Count()) / (double)Snippets.Value.Count;   // news: 60 %
        Assert.True(metrics.MicroAccuracy > majority + 0.08, $"training accuracy {metrics.MicroAccuracy:P1} of {Snippets.Value.Count} snippets; the majority class is {majority:P1}");

        // Saved as an ML.NET zip and loaded back, it scores as before (byte stage + ONNX graph).
        string zip = Path.Combine(folder.Path, "classifier.zip");
        ml.Model.Save(model, data.Schema, zip);
        var loaded = new MLContext().Model.Load(zip, out _);
        var expected = model.Transform(data).GetColumn<float[]>("Score").Take(40).ToList();
        var actual = loaded.Transform(data).GetColumn<float[]>("Score").Take(40).ToList();
        for (int i = 0; i < expected.Count; i++)
            for (int c = 0; c < expected[i].Length; c++) Assert.Equal(expected[i][c], actual[i][c], 1e-5f);

        // A deployed app that references only the scoring package (no TorchSharp) scores the same from the zip.
        string textsFile = Path.Combine(folder.Path, "texts.json"), scoresFile = Path.Combine(folder.Path, "scores.bin");
        File.WriteAllText(textsFile, System.Text.Json.JsonSerializer.Serialize(Snippets.Value.Take(40).Select(s => s.Text).ToArray()));
        using (var child = ChildProject.DeployedScorer("lm-classifier-scoring", TextClassificationEndToEndTests.ScoringProgram))
        {
            child.Run(zip, textsFile, scoresFile);
            var bytes = File.ReadAllBytes(scoresFile);
            var childScores = Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray();
            Assert.Equal(actual.SelectMany(e => e).ToArray(), childScores);   // bit for bit with the zip loaded here
        }

        // The zip continues training as an InitialModel: it restarts from the trained classifier, weight for weight.
        var resumed = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MoHTextClassification(new MoHTextClassificationTrainer.Options
            {
                InitialModel = MixtureHeadsCheckpoint.FromZip(zip), Epochs = 1, BatchSize = 16, LearningRate = 1e-12, WarmupEpochs = 0, Seed = 3, WeightDecay = 0, Device = "cpu",
            })).Fit(data).LastTransformer;
        Assert.IsType<LMTextClassifier>(resumed.Network);
        var resumedState = resumed.Network.Module.state_dict();
        foreach (var (name, value) in moved)
            ParityAssert.Close($"resumed: {name}", value, resumedState[name], new Tolerance("1e-6", 0, 1e-6));

        // The exported graph computes what the TorchSharp network computes on the same byte ids.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rows = Snippets.Value.Take(40).Select(s => ByteTokenization.Encode(s.Text)).ToList();
        int width = rows.Max(r => r.Length);
        var ids = stack(rows.Select(r => tensor(r.Concat(Enumerable.Repeat(0L, width - r.Length)).ToArray())).ToArray());
        trained.Network.Module.eval();
        var reference = softmax(trained.Network.forward(ids).Output, 1);
        ParityAssert.Close("ONNX scores vs TorchSharp forward", reference, tensor(expected.SelectMany(e => e).ToArray()).reshape(40, 2), new Tolerance("1e-4", 0, 1e-4));
    }

    [Fact]
    public void A_folder_without_a_byte_level_LM_is_named()
    {
        using var folder = new TemporaryFolder();
        var ml = new MLContext();
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.MoHTextClassification(
            new MoHTextClassificationTrainer.Options { LanguageModelCheckpoint = Path.Combine(folder.Path, "absent") }));
        Assert.Contains("absent", missing.Message);
        using (var lm = new MoHCausalLM(CausalLMTests.Tiny)) CausalLMCheckpoint.Save(lm, folder.Path);   // 50 ids
        var notBytes = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.MoHTextClassification(
            new MoHTextClassificationTrainer.Options { LanguageModelCheckpoint = folder.Path }));
        Assert.Contains("VocabularySize must be 257", notBytes.Message);
    }
}
