using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>What a <see cref="MultiHeadMoE"/> forward returns.</summary>
/// <param name="Output">The layer output, same shape as the input [..., d].</param>
/// <param name="BalanceLoss">
/// The GShard balance loss <c>E * sum_e mean_s(p[s, e]) * frac_s(top1(s) == e)</c> over all sub-tokens, a scalar;
/// null in evaluation mode. Sum it over MoE layers and weight it (0.01 in the official recipe).
/// </param>
/// <param name="ExpertLoad">Fraction of the sub-token assignments (k per sub-token, before any capacity drop)
/// routed to each expert, [E], detached.</param>
public sealed record MoEOutput(Tensor Output, Tensor? BalanceLoss, Tensor ExpertLoad);
