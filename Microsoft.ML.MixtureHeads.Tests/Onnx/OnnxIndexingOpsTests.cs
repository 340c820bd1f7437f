using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Gather / scatter / top-k / one-hot helpers, and the MoH routing pattern built from them, against TorchSharp.</summary>
public sealed class OnnxIndexingOpsTests
{
    [Fact]
    public void Gathers_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var table = randn(6, 4);
        var ids = randint(0, 6, [2, 3]);
        var columnIds = randint(0, 4, [2, 3]);
        var columns = randint(0, 4, [6, 2]);
        var check = new OnnxParity();
        var g = check.Graph;
        string it = check.Input("table", table), iids = check.Input("ids", ids), icid = check.Input("column_ids", columnIds);
        string icol = check.Input("columns", columns);
        check.Expect("gather_rows", g.Gather(it, iids), table.index_select(0, ids.flatten()).reshape(2, 3, 4));
        check.Expect("gather_columns", g.Gather(it, icid, axis: 1), table.index_select(1, columnIds.flatten()).reshape(6, 2, 3));
        check.Expect("gather_elements", g.GatherElements(it, icol, axis: 1), table.gather(1, columns));
        check.Check();
    }

    [Fact]
    public void Scatters_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var data = randn(4, 5);
        var index = stack([randperm(5)[..2], randperm(5)[..2], randperm(5)[..2], randperm(5)[..2]]);   // distinct per row
        var updates = randn(4, 2);
        var ndIndex = tensor(new long[] { 2, 0 }, 2, 1);
        var ndUpdates = randn(2, 5);
        var check = new OnnxParity();
        var g = check.Graph;
        string idata = check.Input("data", data), iindex = check.Input("index", index), iupd = check.Input("updates", updates);
        string indi = check.Input("nd_index", ndIndex), indu = check.Input("nd_updates", ndUpdates);
        check.Expect("scatter", g.ScatterElements(idata, iindex, iupd, axis: 1), data.scatter(1, index, updates));
        check.Expect("scatter_add", g.ScatterElements(idata, iindex, iupd, axis: 1, reduction: "add"), data.scatter_add(1, index, updates));
        var rowsReplaced = data.clone();
        rowsReplaced.index_put_(ndUpdates, ndIndex.squeeze(1));
        check.Expect("scatter_nd", g.ScatterND(idata, indi, indu), rowsReplaced);
        check.Check();
    }

    [Fact]
    public void TopK_takes_k_as_an_int64_input()
    {
        using var scope = NewDisposeScope();
        manual_seed(10);
        var x = randn(3, 4, 9);
        var k = tensor(new long[] { 3 });
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), ik = check.Input("k", k);
        var (values, indices) = g.TopK(ix, ik);
        var (torchValues, torchIndices) = x.topk(3);
        check.Expect("values", values, torchValues);
        check.Expect("indices", indices, torchIndices);
        var (smallest, smallestAt) = g.TopK(ix, 2, axis: 1, largest: false);
        var (torchSmallest, torchSmallestAt) = x.topk(2, dim: 1, largest: false);
        check.Expect("smallest", smallest, torchSmallest);
        check.Expect("smallest_indices", smallestAt, torchSmallestAt);
        check.Check();
        Assert.Equal(OnnxElementType.Int64, check.Graph.ToModel().Inputs.Single(i => i.Name == "k").ElementType);
    }

    [Fact]
    public void OneHot_argmax_nonzero_cumsum_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var ids = randint(0, 5, [3, 4]);
        var x = randn(3, 6);
        var sparse = (randn(4, 5) > 0.5).to_type(ScalarType.Float32) * randn(4, 5);
        var check = new OnnxParity();
        var g = check.Graph;
        string iids = check.Input("ids", ids), ix = check.Input("x", x), isparse = check.Input("sparse", sparse);
        check.Expect("one_hot", g.OneHot(iids, 5), F.one_hot(ids, 5).to_type(ScalarType.Float32));
        check.Expect("one_hot_axis0", g.OneHot(iids, 5, axis: 0), F.one_hot(ids, 5).permute(2, 0, 1).to_type(ScalarType.Float32));
        check.Expect("argmax", g.ArgMax(ix, axis: 1, keepDims: false), x.argmax(1));
        check.Expect("nonzero", g.NonZero(isparse), sparse.nonzero().t());
        check.Expect("cumsum", g.CumSum(ix, axis: 1), x.cumsum(1));
        check.Expect("cumsum_exclusive", g.CumSum(ix, axis: 1, exclusive: true), x.cumsum(1) - x);
        check.Expect("cumsum_reverse", g.CumSum(ix, axis: 1, reverse: true), x.flip(1).cumsum(1).flip(1));
        check.Check();
    }

    /// <summary>MoH routing: softmax over heads, top-k, a 0/1 mask of the chosen heads, gates renormalised over them.</summary>
    [Fact]
    public void Softmax_topk_mask_renormalise_routing_matches_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        const long heads = 6;
        var logits = randn(2, 5, heads);
        var k = tensor(new long[] { 2 });

        var probs = logits.softmax(-1);                                        // [B, N, H]
        var (top, topIndex) = probs.topk(2);                                   // [B, N, k]
        var viaScatter = zeros_like(probs).scatter(-1, topIndex, top) / top.sum(-1, keepdim: true);
        var mask = zeros_like(probs).scatter(-1, topIndex, ones_like(top));    // [B, N, H]

        var check = new OnnxParity();
        var g = check.Graph;
        var gateProbs = g.Softmax(check.Input("logits", logits), axis: -1);
        var (values, indices) = g.TopK(gateProbs, check.Input("k", k));
        var scattered = g.ScatterElements(g.Mul(gateProbs, g.Scalar(0f)), indices, values, axis: -1);
        check.Expect("gates_scatter", g.Div(scattered, g.ReduceSum(values, [-1])), viaScatter);
        var oneHotMask = g.ReduceSum(g.OneHot(indices, heads), [-2], keepDims: false);   // [B, N, H]
        var masked = g.Mul(gateProbs, oneHotMask);
        check.Expect("mask", oneHotMask, mask);
        check.Expect("gates_one_hot", g.Div(masked, g.ReduceSum(masked, [-1])), viaScatter);
        check.Check();
    }
}
