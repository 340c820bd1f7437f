using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>What <see cref="MoHAttention"/> returns.</summary>
/// <param name="Output">Attended tokens, shape [B, N, C].</param>
/// <param name="BalanceLoss">The layer's load-balance loss L_b = E^2 * mean(P * f), a scalar; null outside training
/// or when the layer has no routed heads.</param>
/// <param name="Gates">The gate each head got for each token, shape [B, N, H]; 0 means the head was not used for that token.</param>
public sealed record MoHAttentionOutput(Tensor Output, Tensor? BalanceLoss, Tensor Gates);
