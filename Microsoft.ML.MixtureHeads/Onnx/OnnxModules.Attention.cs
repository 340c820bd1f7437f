namespace Microsoft.ML.MixtureHeads.Onnx;

public static partial class OnnxModules
{
    /// <summary>
    /// softmax(q kᵀ / √headDim, masked) v - the ONNX twin of TorchSharp's
    /// <c>nn.functional.scaled_dot_product_attention</c> without dropout, for the attention layers to reuse.
    /// </summary>
    /// <param name="graph">The graph.</param>
    /// <param name="q">Queries [B, H, N, D].</param>
    /// <param name="k">Keys [B, H, M, D].</param>
    /// <param name="v">Values [B, H, M, Dv].</param>
    /// <param name="headDim">D; scores are scaled by 1 / √D, like SDPA's default.</param>
    /// <param name="keyPaddingMask">Optional bool [B, M]: true for real keys that may be attended to, false for padding.</param>
    /// <param name="causal">When true, query i sees keys j &lt;= its position (top-left aligned, like SDPA's is_causal,
    /// when neither positions nor offset are given).</param>
    /// <param name="queryOffset">Optional int64 scalar value: the position of the first query among the keys (the past
    /// length P of incremental decoding, where the keys are the P past ones followed by the N new ones); null for 0.</param>
    /// <param name="queryPositions">Optional int64 [B, H, N]: each query's position among the new tokens, for the causal
    /// mask of gathered queries (head skipping); default 0 .. N-1. The offset adds to it.</param>
    /// <returns>The attention output [B, H, N, Dv].</returns>
    /// <remarks>Masked scores become -inf before the softmax, as in SDPA; a query that may see no key at all gets
    /// zeros, as libtorch's SDPA gives (its softmax would give NaN there).</remarks>
    public static string ScaledDotProductAttention(
        this OnnxGraphBuilder graph, string q, string k, string v, long headDim, string? keyPaddingMask = null, bool causal = false,
        string? queryOffset = null, string? queryPositions = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(headDim);
        var scale = graph.Scalar((float)(1 / Math.Sqrt(headDim)));
        var scores = graph.Mul(graph.MatMul(q, graph.Transpose(k, 0, 1, 3, 2)), scale);        // [B, H, N, M]
        string? allowed = keyPaddingMask is null ? null : graph.Unsqueeze(keyPaddingMask, 1, 2); // [B, 1, 1, M]
        if (causal)
        {
            var queries = queryPositions is null
                ? graph.Unsqueeze(Positions(graph, q), 1)                                       // [N, 1]
                : graph.Unsqueeze(queryPositions, -1);                                          // [B, H, N, 1]
            if (queryOffset is not null) queries = graph.Add(queries, queryOffset);             // P onwards
            var keyPositions = graph.Unsqueeze(Positions(graph, k), 0);                         // [1, M]
            var visible = graph.GreaterOrEqual(queries, keyPositions);                          // [N, M] or [B, H, N, M]
            allowed = allowed is null ? visible : graph.And(allowed, visible);                  // [B, 1 or H, N, M]
        }
        if (allowed is null)
            return graph.MatMul(graph.Softmax(scores, axis: -1), v);                            // [B, H, N, Dv]
        var zero = graph.Scalar(0f);
        var weights = graph.Softmax(graph.Where(allowed, scores, graph.Scalar(float.NegativeInfinity)), axis: -1);
        // masked weights are 0 already, except in rows with no visible key, where the softmax gave NaN
        return graph.MatMul(graph.Where(allowed, weights, zero), v);                            // [B, H, N, Dv]
    }

    /// <summary>0 .. L-1 for the sequence length L of a [B, H, L, D] value.</summary>
    private static string Positions(OnnxGraphBuilder graph, string x)
    {
        var length = graph.Squeeze(graph.Shape(x, start: 2, end: 3), 0);                        // scalar L
        return graph.Range(graph.Scalar(0L), length, graph.Scalar(1L));                         // [L]
    }
}
