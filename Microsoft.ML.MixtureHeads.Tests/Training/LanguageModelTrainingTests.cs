using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Datasets;
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

    [Fact]
    public void A_tiny_MoH_LM_on_a_Brown_slice_lowers_validation_perplexity_well_below_its_start()
    {
        var codec = new ByteTokenizer();
        var news = Brown.Value.Where(d => d.Genre == "news").ToList();
        var train = PackedSequences.Encode(news.Take(3).Select(d => d.Text), codec, ByteTokenizer.EndOfText);
        var held = PackedSequences.Encode(news.Skip(40).Take(1).Select(d => d.Text[..4000]), codec, ByteTokenizer.EndOfText);
        var trainBatches = new PackedSequences(train, sequenceLength: 64, batchSize: 16, shuffle: true, seed: 2);
        var validation = new PackedSequences(held, sequenceLength: 64, batchSize: 32, shuffle: false);

        manual_seed(11);
        using var model = new MoHCausalLM(new CausalLMConfig
        {
            Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 128.0 / 48, VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 64,
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
        Assert.InRange(before, 200, 320);            // about uniform over 257 byte ids at initialisation
        Assert.True(after < before / 8, $"validation perplexity {before:F1} -> {after:F1} after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(epochs[^1].BalanceLoss > 0, "MoH and MH-MoE balance losses are part of training");
        Assert.Equal(after, LanguageModelObjective.Perplexity(TrainingLoop.Evaluate(objective, validation, CPU).Loss), 3);
    }
}
