using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Inference forward of <see cref="MoHAttention"/> that computes only the (token, head) pairs with a non-zero gate.
/// Equals the masked computation within fp32 rounding: a head a token did not select still supplies that token's
/// key and value to the other tokens, so K and V are always computed for every token and head.
/// </summary>
/// <remarks>
/// Why this formulation (1 thread, C=512, H=8, D=64, B=4, N=1024, half the heads active; the masked layer takes
/// ~205 ms: 68 qkv, 108 attention, 24 proj):
/// <list type="bullet">
/// <item>Shared heads run densely through the fused sdpa kernel. Routed heads: for each (sequence, routed head) the
/// selected queries are gathered into M rows (M = the longest list in the batch; shorter lists are padded with
/// unselected tokens, whose gate 0 discards them) and one sdpa call attends them all against the full K/V. This
/// attention stage costs ~60 ms instead of 108 (sdpa's cost is linear in the query count; padding wastes ~10%).
/// One sdpa call per (sequence, head) with exact counts was not worth its per-call overhead at small N.</item>
/// <item>Sparse query projection (only selected (token, routed head) pairs, as one batched matmul over routed heads
/// on gathered token rows) and sparse output projection (per-head matmul of the selected rows, index_add into the
/// output) save a further ~20 ms when at most half the routed pairs are selected (K/E &lt;= 1/2). Above that, the
/// gathers and skinny matmuls cost more than the dense GEMMs they replace (measured ~15-25 ms slower at K/E = 2/3),
/// so the dense projections are kept and only attention is skipped.</item>
/// <item>The sparse projections need a plain <see cref="Linear"/>; BitLinear's per-token activation scale spans a
/// whole input row, so BitLinear layers keep dense projections. ParameterFree routing reads every routed query's
/// norm, so it always projects queries densely.</item>
/// </list>
/// </remarks>
internal static class HeadSkipping
{
    /// <summary>Largest selected fraction K/E of routed pairs for which the sparse projections pay off (measured).</summary>
    private const double SparseProjectionMaxFraction = 0.5;

    public static MoHAttentionOutput Forward(MoHAttention layer, AttentionInput input)
    {
        var options = layer.Options;
        var (x, keyPadding, rotary) = input;                                                   // x: [B, N, C]
        long batch = x.shape[0], tokens = x.shape[1];
        int heads = options.Heads, headDim = options.ResolvedHeadDim, shared = options.SharedHeads, routed = options.RoutedHeads;
        bool sparse = options.RoutedTopK <= SparseProjectionMaxFraction * routed;
        bool sparseQueries = sparse && options.Routing == HeadRouting.Learned && layer.qkv is Linear;
        bool sparseOutput = sparse && layer.proj is Linear;

        Tensor gates, sharedQueries, routedQueries, k, v;
        RoutedLists lists;
        if (sparseQueries)
        {
            gates = layer.Route(x, null, keyPadding).Gates;                                    // [B, N, H]
            lists = RoutedLists.Of(gates, shared);
            var qkvLinear = (Linear)layer.qkv;
            (sharedQueries, k, v) = ProjectSharedQueriesKeysValues(qkvLinear, x, shared, heads, headDim);
            routedQueries = ProjectRoutedQueries(qkvLinear, x, lists, shared, heads, headDim);      // [B, E, M, D]
        }
        else
        {
            var qkvHeads = layer.qkv.forward(x).view(batch, tokens, 3, heads, headDim).permute(2, 0, 3, 1, 4);  // [3, B, H, N, D]
            Tensor q = qkvHeads[0];
            (k, v) = (qkvHeads[1], qkvHeads[2]);
            gates = layer.Route(x, q, keyPadding).Gates;
            lists = RoutedLists.Of(gates, shared);
            sharedQueries = q[.., ..shared];                                                   // [B, h_s, N, D]
            routedQueries = q[.., shared..].gather(2, lists.Expanded(headDim));               // [B, E, M, D]
        }
        if (rotary is not null)
        {
            sharedQueries = rotary.forward(sharedQueries);
            routedQueries = rotary.Rotate(routedQueries, lists.Positions);
            k = rotary.forward(k);
        }

        // Shared heads: every token. [B, h_s, N, D] -> gated [B, N, h_s, D]; null when there are none.
        Tensor? sharedOutputs = null;
        if (shared > 0)
        {
            var sharedMask = AttentionMasks.ForAllQueries(keyPadding, options.Causal);
            sharedOutputs = F.scaled_dot_product_attention(sharedQueries, k[.., ..shared], v[.., ..shared], sharedMask,
                is_casual: options.Causal && sharedMask is null).transpose(1, 2) * gates[.., .., ..shared].unsqueeze(-1);
        }
        // Routed heads: the gathered queries against the head's full K/V. [B, E, M, D], gated (padding rows get 0).
        var routedMask = AttentionMasks.ForGatheredQueries(lists.Positions, keyPadding, options.Causal, tokens);
        var routedOutputs = F.scaled_dot_product_attention(routedQueries, k[.., shared..], v[.., shared..], routedMask)
            * lists.Gates.unsqueeze(-1);

        var y = sparseOutput
            ? ProjectSparse((Linear)layer.proj, sharedOutputs, routedOutputs, lists, tokens, options.Dim)
            : layer.proj.forward(Assemble(sharedOutputs, routedOutputs, lists, tokens, heads).view(batch, tokens, heads * headDim));
        return new MoHAttentionOutput(y, null, gates);
    }

    /// <summary>Shared-head queries and all keys/values from one GEMM over the matching rows of the qkv weight.</summary>
    private static (Tensor SharedQueries, Tensor Keys, Tensor Values) ProjectSharedQueriesKeysValues(
        Linear qkv, Tensor x, int shared, int heads, int headDim)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        int sharedRows = shared * headDim, queryRows = heads * headDim;
        var weight = cat([qkv.weight![..sharedRows], qkv.weight[queryRows..]], 0);              // [(h_s + 2H) D, C]
        var bias = qkv.bias is null ? null : cat([qkv.bias[..sharedRows], qkv.bias[queryRows..]], 0);
        var projected = F.linear(x, weight, bias);                                              // [B, N, (h_s + 2H) D]
        var sharedQueries = projected[.., .., ..sharedRows].view(batch, tokens, shared, headDim).transpose(1, 2);
        var keysValues = projected[.., .., sharedRows..].view(batch, tokens, 2, heads, headDim).permute(2, 0, 3, 1, 4);
        return (sharedQueries, keysValues[0], keysValues[1]);                                   // [B, h_s, N, D], [B, H, N, D] x2
    }

    /// <summary>Queries of the selected (token, routed head) pairs only: one batched matmul over routed heads. [B, E, M, D]</summary>
    private static Tensor ProjectRoutedQueries(Linear qkv, Tensor x, RoutedLists lists, int shared, int heads, int headDim)
    {
        long batch = x.shape[0], tokens = x.shape[1], dim = x.shape[2], routed = heads - shared;
        var rowsOfHead = x.reshape(batch * tokens, dim).index_select(0, lists.FlatTokens).view(routed, batch * lists.Rows, dim);  // [E, B*M, C]
        var weight = qkv.weight![(shared * headDim)..(heads * headDim)].view(routed, headDim, dim).transpose(1, 2);             // [E, C, D]
        var queries = bmm(rowsOfHead, weight);                                                                                    // [E, B*M, D]
        if (qkv.bias is not null) queries = queries + qkv.bias[(shared * headDim)..(heads * headDim)].view(routed, 1, headDim);
        return queries.view(routed, batch, lists.Rows, headDim).transpose(0, 1);
    }

    /// <summary>Gated head outputs back in token order, zeros where a head was skipped. [B, N, H, D]</summary>
    private static Tensor Assemble(Tensor? sharedOutputs, Tensor routedOutputs, RoutedLists lists, long tokens, int heads)
    {
        long batch = routedOutputs.shape[0], headDim = routedOutputs.shape[3];
        int shared = heads - (int)routedOutputs.shape[1];
        var all = zeros(batch, tokens, heads, headDim, routedOutputs.dtype, routedOutputs.device);
        if (sharedOutputs is not null) all[.., .., ..shared] = sharedOutputs;
        // Each list holds distinct tokens, so the scatter writes every selected slot once (padding rows write 0 to unselected slots).
        all[.., .., shared..].scatter_(1, lists.Expanded(headDim).transpose(1, 2), routedOutputs.transpose(1, 2));
        return all;
    }

    /// <summary>
    /// proj without the skipped heads: the shared heads' block of the weight on every token, then each routed head's
    /// block on its gathered rows, added into their tokens. [B, N, C]
    /// </summary>
    private static Tensor ProjectSparse(Linear proj, Tensor? sharedOutputs, Tensor routedOutputs, RoutedLists lists, long tokens, int dim)
    {
        long batch = routedOutputs.shape[0], routed = routedOutputs.shape[1], headDim = routedOutputs.shape[3];
        var weight = proj.weight!;                                                                              // [C, H*D]
        int sharedWidth = (int)(weight.shape[1] - routed * headDim);
        var y = sharedOutputs is not null
            ? F.linear(sharedOutputs.reshape(batch * tokens, sharedWidth), weight[.., ..sharedWidth], proj.bias)
            : proj.bias is null ? zeros(batch * tokens, dim, routedOutputs.dtype, routedOutputs.device)
                                : proj.bias.expand(batch * tokens, dim).clone();                               // [B*N, C]
        var routedWeight = weight[.., sharedWidth..].view(dim, routed, headDim).permute(1, 2, 0);        // [E, D, C]
        var routedProjected = bmm(routedOutputs.transpose(0, 1).reshape(routed, batch * lists.Rows, headDim), routedWeight);  // [E, B*M, C]
        y.index_add_(0, lists.FlatTokens, routedProjected.view(-1, dim), 1);
        return y.view(batch, tokens, dim);
    }

    /// <summary>
    /// For each (sequence, routed head), the tokens that selected it, padded to a common length
    /// <see cref="Rows"/> with unselected tokens (whose gate is 0).
    /// </summary>
    /// <param name="Positions">[B, E, M] token positions (int64).</param>
    /// <param name="Gates">[B, E, M] the gate of each listed pair (0 on padding rows).</param>
    /// <param name="FlatTokens">[E * B * M] rows into the flattened [B*N] tokens, head-major.</param>
    /// <param name="Rows">M, the longest list.</param>
    private sealed record RoutedLists(Tensor Positions, Tensor Gates, Tensor FlatTokens, long Rows)
    {
        public static RoutedLists Of(Tensor gates, int shared)
        {
            long batch = gates.shape[0], tokens = gates.shape[1];
            var routedGates = gates[.., .., shared..].transpose(1, 2);                                // [B, E, N]
            var active = routedGates.ne(0);
            long rows = active.sum(-1).max().item<long>();
            // Selected tokens first; their order inside a list does not matter (causal masks come from the positions).
            var positions = active.to(ScalarType.Int8).argsort(-1, descending: true)[.., .., ..(int)rows];   // [B, E, M]
            var flat = (positions + arange(batch, ScalarType.Int64, gates.device).mul(tokens).view(batch, 1, 1)).transpose(0, 1).reshape(-1);
            return new RoutedLists(positions, routedGates.gather(2, positions), flat, rows);
        }

        /// <summary>Positions broadcast over the head width, for gather/scatter on [B, E, N, D]. [B, E, M, D]</summary>
        public Tensor Expanded(long headDim) => Positions.unsqueeze(-1).expand(Positions.shape[0], Positions.shape[1], Rows, headDim);
    }
}
