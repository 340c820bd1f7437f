using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>What a classifier's forward returns.</summary>
/// <param name="Logits">Unnormalised class scores. Shape [B, classes].</param>
/// <param name="BalanceLoss">The auxiliary load-balance loss to add with the balance weight: the mean over MoH
/// attention layers with routed heads plus the sum over expert (MoE) layers. Null in eval mode or when no layer routes.</param>
/// <param name="HeadGates">Per attention layer, the gate each head got per token, shape [B, N, H]; 0 = head not used.</param>
public sealed record ClassifierOutput(Tensor Logits, Tensor? BalanceLoss, IReadOnlyList<Tensor> HeadGates);
