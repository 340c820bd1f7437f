using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Boolean masks for <c>scaled_dot_product_attention</c> (true = may attend).</summary>
internal static class AttentionMasks
{
    /// <summary>
    /// The mask for full-length queries: null when there is no key padding (causal alone goes through sdpa's
    /// <c>is_casual</c>), [B, 1, 1, N] for key padding, [B, 1, N, N] for key padding and causal together
    /// (sdpa refuses a mask and <c>is_casual</c> at once).
    /// </summary>
    public static Tensor? ForAllQueries(Tensor? keyPadding, bool causal)
    {
        if (keyPadding is null) return null;
        long batch = keyPadding.shape[0], tokens = keyPadding.shape[1];
        var keys = keyPadding.view(batch, 1, 1, tokens);
        return causal ? keys.logical_and(ones(tokens, tokens, ScalarType.Bool, keyPadding.device).tril()) : keys;
    }

    /// <summary>
    /// The mask for <paramref name="tokens"/> new queries at positions <paramref name="past"/> onwards over all
    /// <paramref name="past"/> + <paramref name="tokens"/> keys (incremental decoding): null, [B, 1, 1, P + N] for key
    /// padding (<paramref name="keyMask"/> [B, P + N]), or [N, P + N] / [B, 1, N, P + N] when causal (key position
    /// &lt;= query position).
    /// </summary>
    public static Tensor? ForQueriesAfter(long past, long tokens, Tensor? keyMask, bool causal, Device device)
    {
        if (past == 0) return ForAllQueries(keyMask, causal);
        long keys = past + tokens;
        var padding = keyMask?.view(keyMask.shape[0], 1, 1, keys);
        if (!causal) return padding;
        var queryPositions = arange(Scalars.Of(tokens), ScalarType.Int64, device).Plus(past).unsqueeze(1);   // [N, 1]
        var allowed = arange(Scalars.Of(keys), ScalarType.Int64, device).unsqueeze(0).le(queryPositions);      // [N, P + N]
        return padding is null ? allowed : padding.logical_and(allowed);
    }

    /// <summary>
    /// The mask for a gathered subset of queries whose sequence positions are <paramref name="queryPositions"/>
    /// ([B, G, M], int64): null, [B, 1, 1, N] or [B, G, M, N] (causal: key position &lt;= query position).
    /// </summary>
    public static Tensor? ForGatheredQueries(Tensor queryPositions, Tensor? keyPadding, bool causal, long tokens)
    {
        var keys = keyPadding?.view(keyPadding.shape[0], 1, 1, tokens);
        if (!causal) return keys;
        var allowed = queryPositions.unsqueeze(-1) >= arange(Scalars.Of(tokens), ScalarType.Int64, queryPositions.device);  // [B, G, M, N]
        return keys is null ? allowed : allowed.logical_and(keys);
    }
}
