using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>What an attention layer reads.</summary>
/// <param name="X">Tokens, shape [B, N, C] (with a cache: the N new tokens).</param>
/// <param name="KeyPaddingMask">Optional [B, N] bool; true marks a real token, false a padding token that no query may attend to.
/// Padding tokens are also left out of the balance-loss statistics.</param>
/// <param name="Rotary">Optional rotary position embedding applied to queries and keys (after routing reads the queries).</param>
/// <param name="Cache">Optional keys and values of the earlier positions (incremental decoding): the new tokens sit at
/// positions <c>Cache.Length</c> onwards, attend to the cached keys too, and are appended to the cache.</param>
public sealed record AttentionInput(Tensor X, Tensor? KeyPaddingMask = null, RotaryEmbedding? Rotary = null, KeyValueCache? Cache = null);

/// <summary>What the ONNX emission of an attention layer or block reads: graph value names.</summary>
/// <param name="X">Tokens [B, N, C].</param>
/// <param name="KeyPaddingMask">Optional bool [B, N], true = real token.</param>
/// <param name="Rotary">Optional rotary embedding applied to queries and keys.</param>
/// <param name="Condition">Optional conditioning vector [B, C_cond] of a conditioned block (adaLN); attention ignores it.</param>
public sealed record OnnxSequenceInput(string X, string? KeyPaddingMask = null, RotaryEmbedding? Rotary = null, string? Condition = null);
