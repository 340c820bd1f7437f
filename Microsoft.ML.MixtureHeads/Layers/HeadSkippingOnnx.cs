using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The ONNX twin of <see cref="HeadSkipping"/>'s attention stage: shared heads attend for every token; each routed
/// head attends only for the queries that selected it. Per (sequence, routed head) the selected queries are gathered
/// into M rows (M = the longest such list in the batch, shorter lists padded with unselected tokens whose gate 0
/// discards them), attended against the head's full keys and values, gated and scattered back.
/// </summary>
/// <remarks>
/// ONNX TopK breaks ties by the lower index, so the top M of a 0/1 selection row lists the selected tokens in token
/// order, then unselected ones: the indices within a row are distinct and the scatter needs no reduction.
/// Keys and values of every token stay: a head a token did not select still serves that token's key to the others.
/// </remarks>
internal static class HeadSkippingOnnx
{
    /// <summary>Largest selected fraction K/E of routed pairs for which the gathered graph beats the masked one in
    /// ONNX Runtime (measured, docs/decisions.md): above it the longest query list is close to N and the gathers cost more.</summary>
    private const double MaxSelectedFraction = 0.5;

    /// <summary>Whether a layer with these options is emitted with head skipping (when asked for).</summary>
    public static bool Pays(MoHAttentionOptions options) =>
        options.HasRoutedHeads && options.RoutedTopK < options.RoutedHeads && options.RoutedTopK <= MaxSelectedFraction * options.RoutedHeads;

    /// <summary>Gated head outputs [B, N, H, D], equal to every head's attention times its gate.</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="q">Queries [B, H, N, D] (after rotary).</param>
    /// <param name="k">Keys [B, H, N, D] (after rotary).</param>
    /// <param name="v">Values [B, H, N, D].</param>
    /// <param name="gates">Gates [B, N, H]; a routed head with gate 0 is not computed for that token.</param>
    /// <param name="options">The layer's options (heads, shared heads, head width, causal).</param>
    /// <param name="keyPaddingMask">Optional bool [B, N], true for real tokens.</param>
    public static string GatedHeads(OnnxGraphBuilder graph, string q, string k, string v, string gates, MoHAttentionOptions options,
        string? keyPaddingMask)
    {
        int heads = options.Heads, shared = options.SharedHeads, headDim = options.ResolvedHeadDim;
        string Heads(string x, int from, int to) => graph.Slice(x, [from], [to], [1]);                    // [B, to - from, N, D]
        var headGates = graph.Transpose(gates, 0, 2, 1);                                                 // [B, H, N]

        string? sharedOutput = null;
        if (shared > 0)
        {
            var attended = graph.ScaledDotProductAttention(Heads(q, 0, shared), Heads(k, 0, shared), Heads(v, 0, shared),
                headDim, keyPaddingMask, options.Causal);                                                 // [B, h_s, N, D]
            sharedOutput = graph.Mul(attended, graph.Unsqueeze(Heads(headGates, 0, shared), -1));
        }

        var routedGates = Heads(headGates, shared, heads);                                              // [B, E, N]
        var selected = graph.Cast(graph.Greater(routedGates, graph.Scalar(0f)), OnnxElementType.Float);  // [B, E, N] 0/1
        var longest = graph.Cast(graph.Reshape(graph.ReduceMax(graph.ReduceSum(selected, [-1], keepDims: false), [0, 1], keepDims: false), 1),
            OnnxElementType.Int64);                                                                      // [1] M
        var (_, rows) = graph.TopK(selected, longest, axis: -1);                                         // [B, E, M] token of each row
        var rowsAcrossWidth = graph.Expand(graph.Unsqueeze(rows, -1), graph.Concat(0, graph.Shape(rows), graph.Vector([(long)headDim])));   // [B, E, M, D]

        var routedQueries = graph.GatherElements(Heads(q, shared, heads), rowsAcrossWidth, axis: 2);   // [B, E, M, D]
        var attendedRows = graph.ScaledDotProductAttention(routedQueries, Heads(k, shared, heads), Heads(v, shared, heads),
            headDim, keyPaddingMask, options.Causal, queryPositions: rows);                             // [B, E, M, D]
        var gatedRows = graph.Mul(attendedRows, graph.Unsqueeze(graph.GatherElements(routedGates, rows, axis: 2), -1));
        var routedShape = graph.Concat(0, graph.Shape(routedGates), graph.Vector([(long)headDim]));           // [B, E, N, D]
        var routedOutput = graph.ScatterElements(graph.ConstantOfShape(routedShape, 0f), rowsAcrossWidth, gatedRows, axis: 2);

        var all = sharedOutput is null ? routedOutput : graph.Concat(1, sharedOutput, routedOutput);     // [B, H, N, D]
        return graph.Transpose(all, 0, 2, 1, 3);                                                         // [B, N, H, D]
    }
}
