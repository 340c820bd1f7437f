using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>Next-token training on the shared loop: packed windows, the objective, and perplexity on real Brown text.</summary>
public sealed class LanguageModelTrainingTests
{
    private sealed class Options : TrainerOptionsBase;

    private static readonly Lazy<IReadOnlyList<BrownDocument>> Brown = new(() => BrownCorpus.Read());

    [Fact]
    public void Packed_windows_predict_every_token_once_and_shuffle_by_seed()
    {
        long[] stream = [.. Enumerable.Range(0, 23).Select(i => (long)i)];
        var ordered = new PackedSequences(stream, sequenceLength: 5, batchSize: 2, shuffle: false);
        Assert.Equal(4, ordered.Windows);          // (23 - 1) / 5
        Assert.Equal(2, ordered.BatchesPerEpoch);
        var windows = ordered.Batches(1).SelectMany(b => Rows(b.Tokens.ToTensor(CPU))).ToList();
        Assert.Equal([0L, 1, 2, 3, 4, 5], windows[0]);
        Assert.Equal([5L, 6, 7, 8, 9, 10], windows[1]);
        var targets = windows.SelectMany(w => w.Skip(1)).ToList();
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), targets);   // each predicted exactly once

        var shuffled = new PackedSequences(stream, 5, 2, shuffle: true, seed: 3);
        var epoch1 = shuffled.Batches(1).SelectMany(b => Rows(b.Tokens.ToTensor(CPU))).Select(w => w[0]).ToList();
        Assert.Equal(epoch1, new PackedSequences(stream, 5, 2, shuffle: true, seed: 3).Batches(1).SelectMany(b => Rows(b.Tokens.ToTensor(CPU))).Select(w => w[0]));
        Assert.Equal([0L, 5, 10, 15], epoch1.Order());
        Assert.Contains("needs 6", Assert.Throws<ArgumentException>(() => new PackedSequences([1, 2, 3], 5, 2, false)).Message);

        var codec = new ByteTokenizer();
        Assert.Equal([104L, 105, 256, 33, 256], PackedSequences.Encode(["hi", "!"], codec, ByteTokenizer.EndOfText));
    }

    private static IEnumerable<long[]> Rows(Tensor batch) =>
        Enumerable.Range(0, (int)batch.shape[0]).Select(r => batch[r].data<long>().ToArray());

    [Theory]
    [InlineData("bytes")]
    [InlineData("cl100k")]
    public void A_tiny_MoH_LM_on_a_Brown_slice_lowers_validation_perplexity_well_below_its_start(string tokenization)
    {
        var news = Brown.Value.Where(d => d.Genre == "news").ToList();
        var trainTexts = news.Take(tokenization == "bytes" ? 3 : 10).Select(d => d.Text).ToList();
        var heldTexts = news.Skip(40).Take(1).Select(d => d.Text[..4000]).ToList();
        ITokenCodec codec;
        long endOfText;
        int vocabulary;
        if (tokenization == "bytes") (codec, endOfText, vocabulary) = (new ByteTokenizer(), ByteTokenizer.EndOfText, ByteTokenizer.VocabularySize);
        else
        {
            var compact = CompactCl100kCodec.Build(trainTexts, maxSize: 1024);   // rarer tokens become the unknown id
            (codec, endOfText, vocabulary) = (compact, CompactCl100kCodec.EndOfText, compact.VocabularySize);
        }
        int length = tokenization == "bytes" ? 64 : 32;
        var trainBatches = new PackedSequences(PackedSequences.Encode(trainTexts, codec, endOfText), sequenceLength: length, batchSize: 16, shuffle: true, seed: 2);
        var validation = new PackedSequences(PackedSequences.Encode(heldTexts, codec, endOfText), sequenceLength: length, batchSize: 32, shuffle: false);

        manual_seed(11);
        using var model = new MoHCausalLM(new CausalLMConfig
        {
            Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 128.0 / 48, VocabularySize = vocabulary, MaxLength = 64,
            FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2, experts: 4) with { Dim = 0 }, MoEInterval = 2,
        });
        var objective = new LanguageModelObjective(model);
        double before = LanguageModelObjective.Perplexity(TrainingLoop.Evaluate(objective, validation, CPU).Loss);

        var reports = new List<TrainingMetrics>();
        var options = new Options { Epochs = 2, BatchSize = 16, LearningRate = 3e-3, WarmupEpochs = 0.1, WeightDecay = 0.01, LogEverySteps = 1000, MetricsCallback = reports.Add };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TrainingLoop.Run(objective, trainBatches, validation, new LoopSettings(options, 5, CPU));
        clock.Stop();

        var epochs = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();
        Assert.Equal(2, epochs.Count);
        double after = LanguageModelObjective.Perplexity(epochs[^1].ValidationLoss!.Value);
        Assert.InRange(before, 0.75 * vocabulary, 1.25 * vocabulary);   // about uniform over the ids at initialisation
        Assert.True(after < before / 8, $"{tokenization}: validation perplexity {before:F1} -> {after:F1} after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(epochs[^1].BalanceLoss > 0, "MoH and MH-MoE balance losses are part of training");
        Assert.Equal(after, LanguageModelObjective.Perplexity(TrainingLoop.Evaluate(objective, validation, CPU).Loss), 3);
    }

    [Fact]
    public void The_public_training_entry_reports_validation_perplexity_per_epoch()
    {
        var codec = new ByteTokenizer();
        var news = Brown.Value.Where(d => d.Genre == "news").ToList();
        var train = PackedSequences.Encode(news.Skip(5).Take(2).Select(d => d.Text), codec, ByteTokenizer.EndOfText);
        var held = PackedSequences.Encode([news[41].Text[..3000]], codec, ByteTokenizer.EndOfText);
        manual_seed(12);
        using var model = new MoHCausalLM(new CausalLMConfig
        {
            Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 64,
        });
        double before = CausalLMTraining.Perplexity(model, held, sequenceLength: 48);
        var generator = new CausalLMGenerator(model);
        var sampling = new GenerationOptions { MaxNewTokens = 40, Temperature = 0.8, Seed = 1, StopTokens = [ByteTokenizer.EndOfText] };
        static double PlainShare(string text) => text.Length == 0 ? 0 : text.Count(c => c is (>= 'a' and <= 'z') or ' ') / (double)text.Length;
        double plainBefore = PlainShare(string.Concat(generator.GenerateText("The jury said", codec, sampling)));
        var options = new CausalLMTrainingOptions { Epochs = 2, BatchSize = 16, SequenceLength = 48, LearningRate = 3e-3, WarmupEpochs = 0.1, Seed = 3, Device = "cpu" };

        var result = CausalLMTraining.Train(model, train, held, options);

        Assert.Equal(2, result.ValidationPerplexities.Count);
        Assert.True(result.ValidationPerplexities[1] < before / 4, $"{before:F1} -> {string.Join(", ", result.ValidationPerplexities.Select(p => p.ToString("F1")))}");
        Assert.Equal(result.ValidationPerplexities[1], CausalLMTraining.Perplexity(model, held, sequenceLength: 48), 3);
        // Sampled bytes go from mostly anything to mostly lower-case letters and spaces, as English text.
        string sample = string.Concat(generator.GenerateText("The jury said", codec, sampling));
        Assert.True(PlainShare(sample) > 0.6 && plainBefore < 0.3, $"before training {plainBefore:P0} plain, after {PlainShare(sample):P0}: \"{sample}\"");
        Assert.Equal("sequenceLength", Assert.Throws<ArgumentOutOfRangeException>(() => CausalLMTraining.Train(model, train, null, new CausalLMTrainingOptions { SequenceLength = 65 })).ParamName);
        Assert.Contains("needs 49", Assert.Throws<ArgumentException>(() => CausalLMTraining.Perplexity(model, held.Take(10).ToList(), 48)).Message);
    }

    [Fact]
    public void A_stopped_LM_run_resumed_from_its_checkpoints_ends_as_the_uninterrupted_run()
    {
        var codec = new ByteTokenizer();
        var stream = PackedSequences.Encode([Brown.Value[7].Text[..3000]], codec, ByteTokenizer.EndOfText);
        string folder = Directory.CreateTempSubdirectory("mixtureheads-lm-checkpoints-").FullName;
        try
        {
            (Dictionary<string, Tensor> Weights, CausalLMTrainingResult Result) Run(string? checkpoints, int? stopAfterStep)
            {
                using var cancel = new CancellationTokenSource();
                var options = new CausalLMTrainingOptions
                {
                    Epochs = 2, BatchSize = 8, SequenceLength = 32, LearningRate = 3e-3, WarmupEpochs = 0.5, Seed = 4, Device = "cpu", LogEverySteps = 1,
                    CheckpointDirectory = checkpoints, CheckpointEverySteps = 4, CancellationToken = cancel.Token,
                    MetricsCallback = m => { if (m.Step == stopAfterStep) cancel.Cancel(); },
                };
                manual_seed(13);
                using var model = new MoHCausalLM(new CausalLMConfig
                {
                    Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 32,
                    FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2, experts: 4) with { Dim = 0 }, MoEInterval = 2,
                });
                var result = CausalLMTraining.Train(model, stream, stream[..1200], options);
                return (model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()), result);
            }

            var (expected, whole) = Run(null, null);
            Assert.True(Run(folder, stopAfterStep: 6).Result.Summary.Cancelled);
            Assert.True(Run(folder, stopAfterStep: 15).Result.Summary.Cancelled);
            var (resumed, result) = Run(folder, null);

            Assert.False(result.Summary.Cancelled);
            Assert.Equal(whole.ValidationPerplexities, result.ValidationPerplexities);
            foreach (var (name, value) in expected)
                Assert.True(value.allclose(resumed[name], rtol: 1e-5, atol: 1e-6), $"{name} differs after resuming");
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void The_compact_cl100k_codec_keeps_the_corpus_tokens_and_round_trips_text()
    {
        var texts = Brown.Value.Where(d => d.Genre == "news").Take(5).Select(d => d.Text).ToList();
        var codec = CompactCl100kCodec.Build(texts, maxSize: 8192);
        Assert.InRange(codec.VocabularySize, 1000, 8191);   // every token of the texts kept
        var ids = codec.Encode(texts[0]);
        Assert.Equal(texts[0], codec.Decode(ids));
        Assert.DoesNotContain(CompactVocabulary.Unknown, ids);
        Assert.True(ids.Count * 3 < new ByteTokenizer().Encode(texts[0]).Count, "cl100k packs several bytes per token");
        var unseen = codec.Encode("Zyzzyva quokkas");
        Assert.Contains(CompactVocabulary.Unknown, unseen);
        Assert.Contains('\uFFFD', codec.Decode(unseen));
        Assert.Equal("The jury", codec.Decode([.. codec.Encode("The"), CompactCl100kCodec.EndOfText, .. codec.Encode(" jury")]));
        Assert.Throws<ArgumentOutOfRangeException>(() => codec.Decode([codec.VocabularySize]));
        var restored = new CompactCl100kCodec(CompactVocabulary.FromJson(codec.Vocabulary.ToJson()));
        Assert.Equal(ids, restored.Encode(texts[0]));
    }
}
