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
/// <param name="Cache">Optional past keys and values of one attention layer (a decoder graph with a cache): the new tokens
/// sit at positions P onwards, attend to the past keys too, and the layer names the present keys and values in it.</param>
public sealed record OnnxSequenceInput(
    string X, string? KeyPaddingMask = null, RotaryEmbedding? Rotary = null, string? Condition = null, OnnxKeyValueCache? Cache = null);

/// <summary>
/// One attention layer's key/value cache in an ONNX decoder graph, the twin of <see cref="KeyValueCache"/>: graph values
/// of the past keys and values [B, H, P, D] (P may be 0) go in, and the layer that reads them sets the present keys and
/// values [B, H, P + N, D] (after rotary), which the graph declares as outputs to feed back as the next step's past.
/// </summary>
/// <param name="pastKeys">The past keys value [B, H, P, D].</param>
/// <param name="pastValues">The past values value [B, H, P, D].</param>
public sealed class OnnxKeyValueCache(string pastKeys, string pastValues)
{
    /// <summary>The past keys [B, H, P, D].</summary>
    public string PastKeys { get; } = pastKeys ?? throw new ArgumentNullException(nameof(pastKeys));

    /// <summary>The past values [B, H, P, D].</summary>
    public string PastValues { get; } = pastValues ?? throw new ArgumentNullException(nameof(pastValues));

    /// <summary>The present keys [B, H, P + N, D], once the attention layer has been emitted (else null).</summary>
    public string? PresentKeys { get; private set; }

    /// <summary>The present values [B, H, P + N, D], once the attention layer has been emitted (else null).</summary>
    public string? PresentValues { get; private set; }

    /// <summary>Records the present keys and values (once).</summary>
    /// <exception cref="InvalidOperationException">They were already set: a cache serves one layer.</exception>
    internal void SetPresent(string keys, string values)
    {
        if (PresentKeys is not null) throw new InvalidOperationException("This ONNX key/value cache already serves another attention layer.");
        (PresentKeys, PresentValues) = (keys, values);
    }
}
