using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>
/// The loop is task-neutral: a next-token objective, written here and not in the library, trains a tiny causal MoH
/// decoder on 100 short sequences through the unchanged <see cref="TrainingLoop"/> - progress reports, validation,
/// early stopping on the loss and best-weights restore included - exactly as a causal language model would.
/// </summary>
public sealed class ToyNextTokenObjectiveTests
{
    private const int Vocabulary = 16, Length = 12;

    /// <summary>embedding -> one causal MoH block (rotary) -> RMSNorm -> tied-free head; logits [B, L, V].</summary>
    private sealed class ToyDecoder : nn.Module<Tensor, NetworkOutput>
    {
        public readonly ExportableEmbedding tok_embeddings;
        public readonly ModuleList<TransformerBlock> blocks;
        public readonly RMSNorm norm;
        public readonly ExportableLinear head;
        private readonly RotaryEmbedding _rotary = new(8, Length);

        public ToyDecoder() : base(nameof(ToyDecoder))
        {
            var config = new TextEncoderConfig { Dim = 32, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2 };
            tok_embeddings = new ExportableEmbedding(Vocabulary, 32);
            blocks = BlockStack.Create(config, useRmsNorm: true, causal: true);
            norm = new RMSNorm(32);
            head = new ExportableLinear(32, Vocabulary);
            RegisterComponents();
        }

        public override NetworkOutput forward(Tensor ids)
        {
            var (x, balance, gates) = BlockStack.Forward(blocks, new AttentionInput(tok_embeddings.call(ids), Rotary: _rotary));
            return new NetworkOutput(head.call(norm.call(x)), balance, gates);
        }
    }

    /// <summary>Next-token prediction: the model reads tokens 0..L-2 and predicts 1..L-1; loss and accuracy per predicted token.</summary>
    private sealed class NextToken(ToyDecoder model) : ITrainingObjective<long[][]>
    {
        public nn.Module Network => model;

        public ValidationCriterion Criterion => ValidationCriterion.Loss;

        public ObjectiveResult Compute(long[][] batch, Device device, Generator generator)
        {
            var ids = tensor(batch.SelectMany(s => s).ToArray(), [batch.Length, Length], device: device);
            var output = model.call(ids.narrow(1, 0, Length - 1));                                    // [B, L-1, V]
            var targets = ids.narrow(1, 1, Length - 1).reshape(-1);
            var logits = output.Output.reshape(-1, Vocabulary);
            var correct = logits.argmax(1).eq(targets).sum();
            return new ObjectiveResult(F.cross_entropy(logits, targets), output.BalanceLoss, output.HeadGates, batch.Length, targets.shape[0], correct);
        }
    }

    /// <summary>Sequences that count up from a random start by a random step (1-3), modulo the vocabulary.</summary>
    private static long[][] Sequences(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            int start = random.Next(Vocabulary), step = random.Next(1, 4);
            return Enumerable.Range(0, Length).Select(i => (long)((start + i * step) % Vocabulary)).ToArray();
        }).ToArray();
    }

    private sealed class Options : TrainerOptionsBase;

    [Fact]
    public void A_next_token_objective_trains_through_the_unchanged_loop()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var model = new ToyDecoder();
        var objective = new NextToken(model);
        var train = InMemoryBatches.Of(Sequences(100, seed: 1), batchSize: 10, shuffle: true, collate: chunk => chunk.ToArray());
        var validation = InMemoryBatches.Of(Sequences(40, seed: 2), batchSize: 20, shuffle: false, collate: chunk => chunk.ToArray());
        var reports = new List<TrainingMetrics>();
        var options = new Options { Epochs = 40, LearningRate = 1e-2, WarmupEpochs = 1, LogEverySteps = 5, EarlyStoppingPatience = 5, MetricsCallback = reports.Add };

        double before = TrainingLoop.Evaluate(objective, validation, CPU).Loss;
        var summary = TrainingLoop.Run(objective, train, validation, new LoopSettings(options, 9, CPU));
        var after = TrainingLoop.Evaluate(objective, validation, CPU);

        Assert.InRange(Math.Exp(before), 8, 40);                        // about uniform over 16 tokens at the start
        Assert.True(Math.Exp(after.Loss) < 2.0, $"validation perplexity {Math.Exp(after.Loss):F2} after training (from {Math.Exp(before):F2})");
        Assert.True(after.Accuracy > 0.7, $"next-token accuracy {after.Accuracy:P1}");
        var epochs = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();
        var best = epochs.MinBy(e => e.ValidationLoss)!;
        Assert.Equal(best.Epoch, summary.BestEpoch);                    // early stopping on the loss restored the best epoch
        Assert.Equal(best.ValidationLoss!.Value, after.Loss, 4);
        Assert.All(reports, r => Assert.NotNull(r.Accuracy));
        Assert.Contains(reports, r => r.Phase == TrainingPhase.Step && r.HeadUsage.Count == 1);
    }
}
