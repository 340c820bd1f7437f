using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>What a network's forward returns, whatever its task.</summary>
/// <param name="Output">The prediction: class logits [B, classes], next-token logits [B, L, V], predicted noise [B, C, H, W], ...</param>
/// <param name="BalanceLoss">The auxiliary load-balance loss to add with the balance weight: the mean over MoH
/// attention layers with routed heads plus the sum over expert (MoE) layers, as the official code. Null in eval mode or when no layer routes.</param>
/// <param name="HeadGates">Per attention layer, the gate each head got per token, shape [B, N, H]; 0 = head not used.</param>
public sealed record NetworkOutput(Tensor Output, Tensor? BalanceLoss, IReadOnlyList<Tensor> HeadGates);
