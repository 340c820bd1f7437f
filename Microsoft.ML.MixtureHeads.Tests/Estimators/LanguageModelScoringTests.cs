using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Persistence;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// Novelty scoring (<see cref="MoHLanguageModelScoringEstimator"/>): one tiny byte-level MoH LM fitted on Brown text for a
/// fixed number of steps is shared by the tests; its zip scores as the TorchSharp model does, in a process without
/// TorchSharp too, and it finds held-out Brown sentences more likely than the same words shuffled or random characters.
/// </summary>
public sealed class LanguageModelScoringTests(LanguageModelScoringTests.FittedScorer fitted) : IClassFixture<LanguageModelScoringTests.FittedScorer>
{
    public sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private sealed class NumberRow
    {
        public float Text { get; set; }
    }

    /// <summary>The scorer fitted once: 150 steps of 16 windows of 64 bytes of Brown training text (about 30 s on 2 idle cores).</summary>
    public sealed class FittedScorer : IDisposable
    {
        public FittedScorer()
        {
            var (train, validation) = BrownCorpus.Split(BrownCorpus.Read(), validationFraction: 0.1);
            const int bytes = 150 * 16 * 64;
            var rows = new List<TextRow>();
            for (int i = 0, total = 0; total < bytes; i++)
            {
                string text = train[i].Text[..Math.Min(train[i].Text.Length, bytes - total)];
                rows.Add(new TextRow { Text = text });
                total += text.Length + 1;
            }
            Training = Ml.Data.LoadFromEnumerable(rows);
            Scorer = Ml.MoHLanguageModel(new MoHLanguageModelScoringEstimator.Options
            {
                Architecture = "moh_lm_tiny_75", MaxLength = 96, SequenceLength = 64, Epochs = 1, BatchSize = 16, Seed = 1, Device = "cpu",
            }).Fit(Training);
            HeldOut = [.. validation.SelectMany(d => d.Text.Split(". ", StringSplitOptions.RemoveEmptyEntries))
                .Where(s => s.Length is > 40 and < 90).Take(24)];
        }

        public MLContext Ml { get; } = new(seed: 1);

        public IDataView Training { get; }

        public MoHLanguageModelScoringTransformer Scorer { get; }

        /// <summary>Sentences of the validation genres' texts, unseen in training.</summary>
        public string[] HeldOut { get; }

        public void Dispose() => Scorer.Dispose();
    }

    private IDataView Rows(IEnumerable<string> texts) => fitted.Ml.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));

    private static float[] Column(IDataView scored, string name) => [.. scored.GetColumn<float>(name)];

    [Fact]
    public void The_zip_scores_each_row_as_the_TorchSharp_model_does_also_in_a_process_without_TorchSharp()
    {
        string long_ = string.Concat(Enumerable.Repeat("The jury praised the city. ", 10));   // 270 bytes: cut to MaxLength 96
        string[] texts = ["", "The jury said it did find that the election was conducted.", "Zqxj vwk ptt!", "naïve café – déjà vu", long_, fitted.HeldOut[0]];
        var scored = fitted.Scorer.Transform(Rows(texts));
        var logLikelihood = Column(scored, "LogLikelihood");
        var perplexity = Column(scored, "Perplexity");
        var count = Column(scored, "TokenCount");
        for (int i = 0; i < texts.Length; i++)
        {
            var expected = CausalLMLikelihood.Score(fitted.Scorer.Model, texts[i]);
            Assert.True(float.IsFinite(logLikelihood[i]) && logLikelihood[i] < 0, $"row {i}: {logLikelihood[i]}");
            Assert.Equal(expected.LogLikelihood, logLikelihood[i], 1e-4);
            Assert.Equal(expected.Perplexity, perplexity[i], expected.Perplexity * 1e-4);
            Assert.Equal(expected.TokenCount, count[i]);
        }
        Assert.Equal([1f, 59, 14, 27, 96], count[..5]);   // bytes + the end; the empty text scores p(end | start) alone; the long one is cut

        using var folder = new TemporaryFolder();
        string zip = Path.Combine(folder.Path, "scorer.zip");
        fitted.Ml.Model.Save(fitted.Scorer, Rows(texts).Schema, zip);
        string textsFile = Path.Combine(folder.Path, "texts.json");
        File.WriteAllText(textsFile, JsonSerializer.Serialize(texts));
        using var app = ChildProject.DeployedScorer("lm-scoring", """
            using System.Globalization;
            using System.Text.Json;
            using Microsoft.ML;
            using Microsoft.ML.Data;

            var ml = new MLContext(seed: 0);
            var model = ml.Model.Load(args[0], out _);
            var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(args[1]))!;
            var output = model.Transform(ml.Data.LoadFromEnumerable(texts.Select(t => new Row { Text = t })));
            foreach (float value in output.GetColumn<float>("LogLikelihood")) Console.WriteLine(value.ToString("R", CultureInfo.InvariantCulture));
            Console.WriteLine("torchsharp-loaded:" + AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "TorchSharp"));

            sealed class Row { public string Text { get; set; } = ""; }
            """);
        var lines = app.Run(zip, textsFile).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal([.. logLikelihood.Select(v => v.ToString("R", CultureInfo.InvariantCulture)), "torchsharp-loaded:False"], lines);
    }

    [Fact]
    public void Held_out_Brown_sentences_are_more_likely_than_their_words_shuffled_their_letters_scrambled_or_random_characters()
    {
        var random = new Random(5);
        string ShuffledWords(string s) => string.Join(' ', s.Split(' ').OrderBy(_ => random.Next()));
        string ScrambledLetters(string s) => string.Join(' ', s.Split(' ').Select(w => new string([.. w.OrderBy(_ => random.Next())])));
        string Noise(string s) => new([.. s.Select(_ => (char)random.Next(32, 127))]);
        var sentences = fitted.HeldOut;
        float[] Scores(Func<string, string> change) => Column(fitted.Scorer.Transform(Rows(sentences.Select(change))), "LogLikelihood");
        var original = Scores(s => s);
        var shuffled = Scores(ShuffledWords);
        var scrambled = Scores(ScrambledLetters);
        var noise = Scores(Noise);
        string Report(float[] other) =>
            $"mean log-likelihood: sentences {original.Average():F3}, changed {other.Average():F3}; sentences win {original.Zip(other).Count(p => p.First > p.Second)} of {sentences.Length}";

        Assert.True(original.Average() > shuffled.Average(), Report(shuffled));
        Assert.True(original.Zip(shuffled).Count(p => p.First > p.Second) > sentences.Length / 2, Report(shuffled));
        Assert.True(original.Zip(scrambled).All(p => p.First > p.Second + 0.2), Report(scrambled));
        Assert.True(original.Zip(noise).All(p => p.First > p.Second + 1), Report(noise));
        Assert.Single(fitted.Scorer.Training!.Summary.Epochs);
    }

    [Fact]
    public void A_checkpoint_folder_scores_without_training_and_equal_to_the_model_it_holds()
    {
        using var folder = new TemporaryFolder();
        CausalLMCheckpoint.Save(fitted.Scorer.Model, folder.Path);
        var texts = fitted.HeldOut.Take(4).ToArray();
        var ml = new MLContext(seed: 2);
        using var fromCheckpoint = ml.Transforms.MoHLanguageModelScoring(checkpoint: folder.Path).Fit(Rows([]));   // no rows: nothing to train on, none needed
        Assert.Null(fromCheckpoint.Training);
        Assert.Equal(Column(fitted.Scorer.Transform(Rows(texts)), "LogLikelihood"), Column(fromCheckpoint.Transform(Rows(texts)), "LogLikelihood"));
    }

    [Fact]
    public void A_missing_or_non_text_column_is_a_typed_error_naming_it()
    {
        var ml = new MLContext(seed: 1);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MoHLanguageModel(new MoHLanguageModelScoringEstimator.Options { TextColumnName = "Body" }).Fit(Rows(["some text"])));
        Assert.Contains("'Body' not found", missing.Message);
        var number = Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MoHLanguageModel().Fit(ml.Data.LoadFromEnumerable([new NumberRow { Text = 1 }])));
        Assert.Contains("'Text'", number.Message);
        Assert.Contains("Single", number.Message);
        var onLoad = Assert.Throws<ArgumentOutOfRangeException>(() => fitted.Scorer.Transform(ml.Data.LoadFromEnumerable([new NumberRow { Text = 1 }])));
        Assert.Contains("Text", onLoad.Message);
        var unknown = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MoHLanguageModel(new MoHLanguageModelScoringEstimator.Options { Architecture = "moh_vit_tiny_75" }));
        Assert.Contains("moh_lm_tiny_75", unknown.Message);
        var shape = ml.MoHLanguageModel().GetOutputSchema(ShapeOf(Rows(["x"]).Schema));
        Assert.All(new[] { "LogLikelihood", "Perplexity", "TokenCount" }, name =>
            Assert.Equal(NumberDataViewType.Single, Assert.Single(shape, c => c.Name == name).ItemType));
        Assert.Contains("'Body' not found", Assert.Throws<ArgumentOutOfRangeException>(() =>
            ml.MoHLanguageModel(new MoHLanguageModelScoringEstimator.Options { TextColumnName = "Body" }).GetOutputSchema(ShapeOf(Rows(["x"]).Schema))).Message);
        var tooLittle = Assert.Throws<ArgumentException>(() => ml.MoHLanguageModel().Fit(Rows(["short"])));
        Assert.Contains("'Text' holds 6 bytes", tooLittle.Message);
    }

    /// <summary>ML.NET keeps SchemaShape.Create internal; its estimators get a shape the same way.</summary>
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public,
            [typeof(DataViewSchema)])!.Invoke(null, [schema])!;
}
