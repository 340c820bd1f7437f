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
/// <remarks>Shared heads densely, routed heads as one sdpa call over gathered query lists, sparse projections only
/// when at most half the routed pairs are selected: the measurements behind each choice are in docs/decisions.md.</remarks>
internal static class HeadSkipping
{
    /// <summary>Largest selected fraction K/E of routed pairs for which the sparse projections pay off (measured).</summary>
    private const double SparseProjectionMaxFraction = 0.5;

    public static MoHAttentionOutput Forward(MoHAttention layer, AttentionInput input)
    {
        var options = layer.Options;
        var (x, keyPadding, rotary, _) = input;                                                   // x: [B, N, C]
        long batch = x.shape[0], tokens = x.shape[1];
        int heads = options.Heads, headDim = options.ResolvedHeadDim, shared = options.SharedHeads;
        bool sparse = options.RoutedTopK <= SparseProjectionMaxFraction * options.RoutedHeads;
        bool sparseQueries = sparse && options.Routing == HeadRouting.Learned && layer.qkv is ExportableLinear;
        bool sparseOutput = sparse && layer.proj is ExportableLinear;

        Tensor gates, sharedQueries, routedQueries, k, v;
        QueryLists lists;
        HeadRows? rows = null;
        if (sparseQueries)
        {
            gates = layer.Route(x, null, keyPadding).Gates;                                    // [B, N, H]
            lists = QueryLists.Of(gates, shared);
            rows = HeadRows.Of(gates, shared, lists);
            var qkvLinear = (ExportableLinear)layer.qkv;
            (sharedQueries, k, v) = ProjectSharedQueriesKeysValues(qkvLinear, x, shared, heads, headDim);
            routedQueries = lists.FromHeadRows(ProjectRoutedQueries(qkvLinear, x, rows, shared, heads, headDim), rows);  // [B, E, M, D]
        }
        else
        {
            var qkvHeads = layer.qkv.call(x).view(batch, tokens, 3, heads, headDim).permute(2, 0, 3, 1, 4);  // [3, B, H, N, D]
            Tensor q = qkvHeads[0];
            (k, v) = (qkvHeads[1], qkvHeads[2]);
            gates = layer.Route(x, q, keyPadding).Gates;
            lists = QueryLists.Of(gates, shared);
            if (sparseOutput) rows = HeadRows.Of(gates, shared, lists);
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
        // Routed heads: the listed queries against the head's full K/V. [B, E, M, D], gated (padding rows get 0).
        var routedMask = AttentionMasks.ForGatheredQueries(lists.Positions, keyPadding, options.Causal, tokens);
        var routedOutputs = F.scaled_dot_product_attention(routedQueries, k[.., shared..], v[.., shared..], routedMask)
            * lists.Gates.unsqueeze(-1);

        var y = sparseOutput
            ? ProjectSparse((ExportableLinear)layer.proj, sharedOutputs, lists.ToHeadRows(routedOutputs, rows!), rows!, batch, tokens)
            : layer.proj.call(Assemble(sharedOutputs, routedOutputs, lists, tokens, heads).view(batch, tokens, heads * headDim));
        return new MoHAttentionOutput(y, null, gates);
    }

    /// <summary>Shared-head queries and all keys/values from one GEMM over the matching rows of the qkv weight.</summary>
    private static (Tensor SharedQueries, Tensor Keys, Tensor Values) ProjectSharedQueriesKeysValues(
        ExportableLinear qkv, Tensor x, int shared, int heads, int headDim)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        int sharedRows = shared * headDim, queryRows = heads * headDim;
        var weight = cat([qkv.weight[..sharedRows], qkv.weight[queryRows..]], 0);              // [(h_s + 2H) D, C]
        var bias = qkv.bias is null ? null : cat([qkv.bias[..sharedRows], qkv.bias[queryRows..]], 0);
        var projected = F.linear(x, weight, bias);                                              // [B, N, (h_s + 2H) D]
        var sharedQueries = projected[.., .., ..sharedRows].view(batch, tokens, shared, headDim).transpose(1, 2);
        var keysValues = projected[.., .., sharedRows..].view(batch, tokens, 2, heads, headDim).permute(2, 0, 3, 1, 4);
        return (sharedQueries, keysValues[0], keysValues[1]);                                   // [B, h_s, N, D], [B, H, N, D] x2
    }

    /// <summary>Queries of each routed head's listed tokens only: one batched matmul over routed heads. [E, R, D]</summary>
    private static Tensor ProjectRoutedQueries(ExportableLinear qkv, Tensor x, HeadRows rows, int shared, int heads, int headDim)
    {
        long dim = x.shape[2], routed = heads - shared;
        var tokensOfHead = x.reshape(-1, dim).index_select(0, rows.Tokens.reshape(-1)).view(routed, -1, dim);          // [E, R, C]
        var weight = qkv.weight[(shared * headDim)..(heads * headDim)].view(routed, headDim, dim).transpose(1, 2);   // [E, C, D]
        var queries = bmm(tokensOfHead, weight);                                                                        // [E, R, D]
        return qkv.bias is null ? queries : queries.Plus(qkv.bias[(shared * headDim)..(heads * headDim)].view(routed, 1, headDim));
    }

    /// <summary>Gated head outputs back in token order, zeros where a head was skipped. [B, N, H, D]</summary>
    private static Tensor Assemble(Tensor? sharedOutputs, Tensor routedOutputs, QueryLists lists, long tokens, int heads)
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
    /// block on its listed rows (<paramref name="routedOutputs"/>, [E, R, D]), added into their tokens. [B, N, C]
    /// </summary>
    private static Tensor ProjectSparse(ExportableLinear proj, Tensor? sharedOutputs, Tensor routedOutputs, HeadRows rows, long batch, long tokens)
    {
        long routed = routedOutputs.shape[0], headDim = routedOutputs.shape[2];
        var weight = proj.weight;                                                                              // [C, H*D]
        long dim = weight.shape[0];
        int sharedWidth = (int)(weight.shape[1] - routed * headDim);
        var y = sharedOutputs is not null
            ? F.linear(sharedOutputs.reshape(batch * tokens, sharedWidth), weight[.., ..sharedWidth], proj.bias)
            : proj.bias is null ? zeros(batch * tokens, dim, routedOutputs.dtype, routedOutputs.device)
                                : proj.bias.expand(batch * tokens, dim).clone();                               // [B*N, C]
        var routedWeight = weight[.., sharedWidth..].view(dim, routed, headDim).permute(1, 2, 0);              // [E, D, C]
        y.index_add_(0, rows.Tokens.reshape(-1), bmm(routedOutputs, routedWeight).view(-1, dim), Scalars.Of(1L));              // [E*R, C] into tokens
        return y.view(batch, tokens, dim);
    }

    /// <summary>
    /// The attention layout: for each (sequence, routed head), the tokens that selected it, padded to a common length
    /// <see cref="Rows"/> with unselected tokens (whose gate is 0).
    /// </summary>
    /// <param name="Positions">[B, E, M] token positions (int64).</param>
    /// <param name="Gates">[B, E, M] the gate of each listed pair (0 on padding rows).</param>
    /// <param name="Rows">M, the longest list.</param>
    private sealed record QueryLists(Tensor Positions, Tensor Gates, long Rows)
    {
        public static QueryLists Of(Tensor gates, int shared)
        {
            var routedGates = gates[.., .., shared..].transpose(1, 2);                                // [B, E, N]
            var active = routedGates.ne(Scalars.Of(0L));
            long rows = active.sum(-1).max().item<long>();
            // Selected tokens first; their order inside a list does not matter (causal masks come from the positions).
            var positions = active.to(ScalarType.Int8).argsort(-1, descending: true)[.., .., ..(int)rows];   // [B, E, M]
            return new QueryLists(positions, routedGates.gather(2, positions), rows);
        }

        /// <summary>Positions broadcast over the head width, for gather/scatter on [B, E, N, D]. [B, E, M, D]</summary>
        public Tensor Expanded(long headDim) => Positions.unsqueeze(-1).expand(Positions.shape[0], Positions.shape[1], Rows, headDim);

        /// <summary>[E, R, D] in head-row layout -> [B, E, M, D] in this layout.</summary>
        public Tensor FromHeadRows(Tensor perHead, HeadRows rows)
        {
            long batch = Positions.shape[0], routed = Positions.shape[1], headDim = perHead.shape[2];
            if (rows.Slots is null) return perHead.view(routed, batch, Rows, headDim).transpose(0, 1);
            var index = rows.Slots.unsqueeze(-1).expand(routed, batch * Rows, headDim);
            return perHead.gather(1, index).view(routed, batch, Rows, headDim).transpose(0, 1);
        }

        /// <summary>[B, E, M, D] in this layout -> [E, R, D] in head-row layout; padding rows (zero after gating) add nothing.</summary>
        public Tensor ToHeadRows(Tensor perList, HeadRows rows)
        {
            long routed = perList.shape[1], headDim = perList.shape[3];
            var headMajor = perList.transpose(0, 1).reshape(routed, -1, headDim);                     // [E, B*M, D]
            if (rows.Slots is null) return headMajor;
            var index = rows.Slots.unsqueeze(-1).expand(routed, headMajor.shape[1], headDim);
            return zeros(routed, rows.Tokens.shape[1], headDim, perList.dtype, perList.device).scatter_add_(1, index, headMajor);
        }
    }

    /// <summary>
    /// The projection layout: for each routed head, the rows its query and output projections run on. When sequences
    /// are short, the per-sequence lists waste many padding rows (N=64: lists of 31 for 21 selected tokens on average),
    /// so the tokens of the whole batch that selected the head are listed instead, padded to a common length R (4%
    /// waste). When that saves under a tenth of the rows, the lists themselves are used and no reshuffle is needed.
    /// </summary>
    /// <param name="Tokens">[E, R] rows of the flattened [B*N] tokens.</param>
    /// <param name="Slots">[E, B*M] for each entry of the <see cref="QueryLists"/> (head-major), its row in <see cref="Tokens"/>
    /// (exact for selected pairs, some valid row for padding entries); null when the rows are the lists themselves.</param>
    private sealed record HeadRows(Tensor Tokens, Tensor? Slots)
    {
        public static HeadRows Of(Tensor gates, int shared, QueryLists lists)
        {
            long batch = gates.shape[0], tokens = gates.shape[1];
            var listTokens = lists.Positions.Plus(arange(Scalars.Of(batch), ScalarType.Int64, gates.device).mul(Scalars.Of(tokens)).view(batch, 1, 1))
                .transpose(0, 1).reshape(lists.Positions.shape[1], -1);                                  // [E, B*M]
            var active = gates[.., .., shared..].reshape(batch * tokens, -1).ne(Scalars.Of(0L)).t();    // [E, B*N]
            long rows = active.sum(-1).max().item<long>();
            if (rows * 10 >= listTokens.shape[1] * 9) return new HeadRows(listTokens, null);
            var headTokens = active.to(ScalarType.Int8).argsort(-1, descending: true)[.., ..(int)rows];     // [E, R]
            using var rowCount = rows.ToScalar();   // data-dependent: not cached, alive until the scatter is done
            var rowOfToken = zeros_like(active, dtype: ScalarType.Int64)
                .scatter_(1, headTokens, arange(rowCount, ScalarType.Int64, gates.device).expand_as(headTokens));   // [E, B*N]
            return new HeadRows(headTokens, rowOfToken.gather(1, listTokens));
        }
    }
}
