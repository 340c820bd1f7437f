using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Which validation result is the better one, for early stopping and restoring the best weights.</summary>
internal enum ValidationCriterion
{
    /// <summary>Higher accuracy, then lower loss (classification).</summary>
    Accuracy,

    /// <summary>Lower loss (next-token prediction, denoising).</summary>
    Loss,
}

/// <summary>What an objective computed on one batch.</summary>
/// <param name="Loss">The task loss, a scalar: the mean over <paramref name="Targets"/>.</param>
/// <param name="BalanceLoss">The network's unweighted balance loss, or null (eval mode, no routing).</param>
/// <param name="HeadGates">Per attention layer, the head gates [B, N, H] (for head usage).</param>
/// <param name="Examples">Rows in the batch (for throughput).</param>
/// <param name="Targets">Predictions the loss averages over: rows for a classifier, predicted tokens for a language model.</param>
/// <param name="Correct">Correct predictions among the targets (a scalar tensor), or null when the task has no accuracy.</param>
internal sealed record ObjectiveResult(Tensor Loss, Tensor? BalanceLoss, IReadOnlyList<Tensor> HeadGates, long Examples, long Targets, Tensor? Correct);

/// <summary>
/// A task the training loop optimises: the network it trains, and the loss and metrics of a batch. Classification,
/// next-token prediction and denoising are objectives; the loop is the same for all of them.
/// </summary>
internal interface ITrainingObjective<in TBatch>
{
    /// <summary>The network being trained.</summary>
    nn.Module Network { get; }

    /// <summary>How validation results rank.</summary>
    ValidationCriterion Criterion { get; }

    /// <summary>
    /// Forward and task loss on <paramref name="batch"/>, in the network's current mode (train: augmentation and
    /// noise drawn from <paramref name="generator"/>; eval: none), inside the caller's dispose scope.
    /// </summary>
    ObjectiveResult Compute(TBatch batch, Device device, Generator generator);
}
