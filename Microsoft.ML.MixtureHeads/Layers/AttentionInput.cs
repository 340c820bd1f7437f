using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>What an attention layer reads.</summary>
/// <param name="X">Tokens, shape [B, N, C].</param>
/// <param name="KeyPaddingMask">Optional [B, N] bool; true marks a real token, false a padding token that no query may attend to.
/// Padding tokens are also left out of the balance-loss statistics.</param>
/// <param name="Rotary">Optional rotary position embedding applied to queries and keys (after routing reads the queries).</param>
public sealed record AttentionInput(Tensor X, Tensor? KeyPaddingMask = null, RotaryEmbedding? Rotary = null);
