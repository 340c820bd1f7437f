using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The ONNX twin of <see cref="HeadSkipping"/>: shared heads attend for every token; each routed
/// head attends only for the queries that selected it. Per (sequence, routed head) the selected queries are gathered
/// into M rows (M = the longest such list in the batch, shorter lists padded with unselected tokens whose gate 0
/// discards them), attended against the head's full keys and values, gated, and projected by the head's block of
/// <c>proj</c> straight into their tokens (a plain linear <c>proj</c>; a BitLinear one gets the rows scattered back
/// and runs densely). The query/key/value projection stays dense.
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

    /// <summary>The layer's output [B, N, C] with only the selected (token, routed head) pairs attended and projected.</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="layer">The layer (options and output projection).</param>
    /// <param name="q">Queries [B, H, N, D] (after rotary).</param>
    /// <param name="k">Keys [B, H, P + N, D] (after rotary; P past ones with a decoder cache, else P = 0).</param>
    /// <param name="v">Values [B, H, P + N, D].</param>
    /// <param name="gates">Gates [B, N, H]; a routed head with gate 0 is not computed for that token.</param>
    /// <param name="keyPaddingMask">Optional bool [B, N], true for real tokens.</param>
    /// <param name="queryOffset">Optional int64 scalar P, the position of the first new token (decoder cache).</param>
    /// <param name="prefix">The layer's state-dict path (for the output projection's initializers).</param>
    public static string Emit(OnnxGraphBuilder graph, MoHAttention layer, string q, string k, string v, string gates, string? keyPaddingMask,
        string? queryOffset, string prefix)
    {
        var options = layer.Options;
        int heads = options.Heads, shared = options.SharedHeads, headDim = options.ResolvedHeadDim;
        string Heads(string x, int from, int to) => graph.Slice(x, [from], [to], [1]);                    // heads from..to of [B, H, ...]
        var headGates = graph.Transpose(gates, 0, 2, 1);                                                 // [B, H, N]

        string? sharedOutput = null;                                                                     // [B, h_s, N, D], gated
        if (shared > 0)
        {
            var attended = graph.ScaledDotProductAttention(Heads(q, 0, shared), Heads(k, 0, shared), Heads(v, 0, shared),
                headDim, keyPaddingMask, options.Causal, queryOffset);
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
            headDim, keyPaddingMask, options.Causal, queryOffset, queryPositions: rows);                             // [B, E, M, D]
        var gatedRows = graph.Mul(attendedRows, graph.Unsqueeze(graph.GatherElements(routedGates, rows, axis: 2), -1));

        if (layer.proj is ExportableLinear proj)
            return ProjectSparse(graph, proj, options, sharedOutput, gatedRows, rows, routedGates, OnnxGraphBuilder.ParameterName(prefix, "proj"));
        // BitLinear quantises each token's whole activation row, so its input is assembled densely first.
        var routedShape = graph.Concat(0, graph.Shape(routedGates), graph.Vector([(long)headDim]));     // [B, E, N, D]
        var routedOutput = graph.ScatterElements(graph.ConstantOfShape(routedShape, 0f), rowsAcrossWidth, gatedRows, axis: 2);
        var all = sharedOutput is null ? routedOutput : graph.Concat(1, sharedOutput, routedOutput);     // [B, H, N, D]
        return layer.proj.EmitOnnx(graph, graph.Reshape(graph.Transpose(all, 0, 2, 1, 3), 0, 0, -1), OnnxGraphBuilder.ParameterName(prefix, "proj"));
    }

    /// <summary>
    /// proj without the skipped pairs: the shared heads' block of W on every token, then each routed head's block
    /// [D, C] on its rows, added into their tokens (padding rows carry gate 0 and add nothing). [B, N, C]
    /// </summary>
    private static string ProjectSparse(OnnxGraphBuilder graph, ExportableLinear proj, MoHAttentionOptions options,
        string? sharedOutput, string gatedRows, string rows, string routedGates, string prefix)
    {
        using var scope = graph.Scope(prefix);
        long dim = proj.OutFeatures, headDim = options.ResolvedHeadDim, sharedWidth = options.SharedHeads * headDim;
        var weight = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), proj.weight);          // [C, H*D]
        var bias = proj.bias is null ? null : graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "bias"), proj.bias);

        string y;                                                                                             // [B, N, C]
        if (sharedOutput is not null)
        {
            var sharedRows = graph.Reshape(graph.Transpose(sharedOutput, 0, 2, 1, 3), 0, 0, -1);             // [B, N, h_s*D]
            y = graph.MatMul(sharedRows, graph.Transpose(graph.Slice(weight, [0], [sharedWidth], [1]), 1, 0));
        }
        else
        {
            var tokenShape = graph.Concat(0, graph.Shape(routedGates, start: 0, end: 1), graph.Shape(routedGates, start: 2, end: 3), graph.Vector([dim]));
            y = graph.ConstantOfShape(tokenShape, 0f);
        }
        if (bias is not null) y = graph.Add(y, bias);

        var routedWeight = graph.Transpose(graph.Reshape(graph.Slice(weight, [sharedWidth], [proj.InFeatures], [1]), dim, -1, headDim),
            1, 2, 0);                                                                                         // [E, D, C]
        var projectedRows = graph.MatMul(gatedRows, routedWeight);                                            // [B, E, M, C]
        var batch = graph.Squeeze(graph.Shape(rows, start: 0, end: 1), 0);
        var sequenceOfRow = graph.Expand(graph.Reshape(graph.Range(graph.Scalar(0L), batch, graph.Scalar(1L)), -1, 1, 1), graph.Shape(rows));   // [B, E, M]
        var where = graph.Concat(-1, graph.Unsqueeze(sequenceOfRow, -1), graph.Unsqueeze(rows, -1));          // [B, E, M, 2] (sequence, token)
        return graph.ScatterND(y, where, projectedRows, "add");
    }
}
