using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Shape op helpers (opset 13+ inputs for axes, splits and shapes) against TorchSharp.</summary>
public sealed class OnnxShapeOpsTests
{
    [Fact]
    public void Reshape_transpose_concat_split_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(2, 3, 4);
        var y = randn(2, 5, 4);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), iy = check.Input("y", y);
        check.Expect("reshape", g.Reshape(ix, 0, -1), x.reshape(2, 12));
        check.Expect("transpose", g.Transpose(ix, 2, 0, 1), x.permute(2, 0, 1));
        check.Expect("concat", g.Concat(1, ix, iy), cat([x, y], 1));
        var torchPieces = y.split([1, 3, 1], 1);
        var pieces = g.Split(iy, 1, 1, 3, 1);
        for (int i = 0; i < pieces.Length; i++)
            check.Expect($"split{i}", pieces[i], torchPieces[i]);
        check.Check();
    }

    [Fact]
    public void Split_by_sizes_computed_in_the_graph_allows_empty_pieces()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var x = randn(6, 3);
        long[] sizes = [2, 0, 4, 0];
        var check = new OnnxParity();
        string ix = check.Input("x", x), isizes = check.Input("sizes", tensor(sizes));
        var pieces = check.Graph.Split(ix, isizes, axis: 0, pieces: sizes.Length);
        var torchPieces = x.split(sizes, 0);
        for (int i = 0; i < pieces.Length; i++)
            check.Expect($"piece{i}", pieces[i], torchPieces[i]);
        check.Check();
    }

    [Fact]
    public void Slice_squeeze_unsqueeze_expand_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var x = randn(4, 7, 3);
        var row = randn(1, 3);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), irow = check.Input("row", row);
        check.Expect("slice", g.Slice(ix, starts: [1, 1], ends: [3, 7], axes: [0, 1], steps: [1, 2]), x[1..3, TensorIndex.Slice(1, 7, 2)]);
        check.Expect("slice_negative", g.Slice(ix, starts: [-2], ends: [long.MaxValue], axes: [2]), x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(-2)]);
        check.Expect("unsqueeze", g.Unsqueeze(ix, 0, 3), x.unsqueeze(0).unsqueeze(3));
        check.Expect("squeeze", g.Squeeze(irow, 0), row.squeeze(0));
        check.Expect("expand", g.Expand(irow, 5, 3), row.expand(5, 3));
        check.Check();
    }

    [Fact]
    public void Shape_derived_values_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var x = randn(3, 5, 2);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x);
        var shape = g.Shape(ix);
        check.Expect("shape", shape, tensor(x.shape));
        check.Expect("shape_middle", g.Shape(ix, start: 1, end: 2), tensor(new[] { x.shape[1] }));
        check.Expect("filled_float", g.ConstantOfShape(shape, 2.5f), full(x.shape, 2.5f));
        check.Expect("filled_int64", g.ConstantOfShape(shape, 7L), full(x.shape, 7L, ScalarType.Int64));
        check.Expect("filled_bool", g.ConstantOfShape(shape, true), ones(x.shape, ScalarType.Bool));
        var length = g.Squeeze(g.Shape(ix, start: 1, end: 2), 0);
        check.Expect("range", g.Range(g.Scalar(0L), length, g.Scalar(1L)), arange(5L));
        check.Expect("range_float", g.Range(g.Scalar(0.5f), g.Scalar(3f), g.Scalar(0.5f)), arange(0.5, 3.0, 0.5, ScalarType.Float32));
        check.Expect("expand_to_shape", g.Expand(g.Scalar(1f), shape), ones(x.shape));
        check.Check();
    }
}
