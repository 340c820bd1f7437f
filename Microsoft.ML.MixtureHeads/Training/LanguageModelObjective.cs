using Microsoft.ML.MixtureHeads.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>A batch of packed windows [B, T + 1] (int64 token ids): the model reads the first T, predicts the last T.</summary>
internal sealed record LanguageModelBatch(HostTensor Tokens);

/// <summary>
/// Next-token prediction: the mean cross-entropy of every position's logits against the token that follows it (the
/// loop adds the weighted balance loss), next-token accuracy, and validation loss as nats per token, whose exponential
/// is the perplexity (<see cref="Perplexity"/>).
/// </summary>
internal sealed class LanguageModelObjective(IMixtureHeadsNetwork<Tensor> network) : ITrainingObjective<LanguageModelBatch>
{
    /// <inheritdoc />
    public nn.Module Network => network.Module;

    /// <inheritdoc />
    public ValidationCriterion Criterion => ValidationCriterion.Loss;

    /// <summary>The perplexity of a mean per-token cross-entropy (nats).</summary>
    public static double Perplexity(double meanLoss) => Math.Exp(meanLoss);

    /// <inheritdoc />
    public ObjectiveResult Compute(LanguageModelBatch batch, Device device, Generator generator)
    {
        var tokens = batch.Tokens.ToTensor(device);                                          // [B, T + 1]
        if (tokens.dim() != 2 || tokens.shape[1] < 2)
            throw new ArgumentException($"A language-model batch holds windows [B, T + 1] with T >= 1; got [{string.Join(", ", tokens.shape)}].", nameof(batch));
        long rows = tokens.shape[0], length = tokens.shape[1] - 1;
        var inputs = tokens.narrow(1, 0, length);                                            // [B, T]
        var targets = tokens.narrow(1, 1, length);                                           // [B, T]
        var output = network.call(inputs);
        var logits = output.Output;                                                          // [B, T, V]
        var loss = F.cross_entropy(logits.reshape(rows * length, -1), targets.reshape(-1));
        var correct = logits.argmax(-1).eq(targets).sum();
        return new ObjectiveResult(loss, output.BalanceLoss, output.HeadGates, rows, rows * length, correct);
    }
}
