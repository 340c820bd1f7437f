using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>The ONNX Runtime wrapper: typed inputs in, named outputs back, clear errors on wrong inputs.</summary>
public sealed class OnnxSessionTests
{
    private static byte[] MaskedSum()
    {
        var g = new OnnxGraphBuilder();
        var x = g.Input("x", OnnxElementType.Float, "batch", 3);
        var keep = g.Input("keep", OnnxElementType.Bool, "batch", 3);
        var ids = g.Input("ids", OnnxElementType.Int64, "batch");
        g.Output(g.ReduceSum(g.Where(keep, x, g.Scalar(0f)), [1], keepDims: false), "sum", OnnxElementType.Float, "batch");
        g.Output(g.Add(ids, g.Scalar(1L)), "next", OnnxElementType.Int64, "batch");
        return g.ToBytes();
    }

    [Fact]
    public void Runs_float_bool_and_int64_inputs_and_returns_every_output_by_name()
    {
        using var scope = NewDisposeScope();
        using var session = new OnnxSession(MaskedSum());
        Assert.Equal(["x", "keep", "ids"], session.InputNames);
        Assert.Equal(["sum", "next"], session.OutputNames);
        var x = tensor(new[] { 1f, 2f, 4f, 8f, 16f, 32f }).view(2, 3);
        var keep = tensor(new[] { true, false, true, false, true, true }).view(2, 3);
        var ids = tensor(new long[] { 5, -1 });

        var outputs = session.Run(("ids", ids), ("x", x), ("keep", keep));
        Assert.Equal([5f, 48f], outputs["sum"].data<float>().ToArray());
        Assert.Equal([6L, 0L], outputs["next"].data<long>().ToArray());
        Assert.Equal([6f, 0f], session.RunFloats(("ids", ids), ("x", x), ("keep", keep))["next"]);
    }

    [Fact]
    public void Missing_or_unknown_inputs_and_unsupported_dtypes_are_argument_errors()
    {
        using var scope = NewDisposeScope();
        using var session = new OnnxSession(MaskedSum());
        var x = zeros(1, 3);
        var e = Assert.Throws<ArgumentException>(() => session.Run(("x", x), ("mask", ones(1, 3, dtype: ScalarType.Bool))));
        Assert.Contains("missing [keep, ids], unknown [mask]", e.Message);
        Assert.Throws<ArgumentException>(() => session.Run(("x", x.to_type(ScalarType.Float64)), ("keep", ones(1, 3, dtype: ScalarType.Bool)), ("ids", zeros(1, dtype: ScalarType.Int64))));
    }
}
