namespace Microsoft.ML.MixtureHeads.Onnx;

// Reductions and normalised sums. In opset 17 ReduceSum takes axes as an input, ReduceMean/ReduceMax as an attribute.
public sealed partial class OnnxGraphBuilder
{
    /// <summary>Sum over <paramref name="axes"/> (all axes when empty).</summary>
    public string ReduceSum(string x, long[] axes, bool keepDims = true) =>
        Apply("ReduceSum", axes.Length == 0 ? [x] : [x, Vector(axes)], OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>Mean over <paramref name="axes"/> (all axes when empty).</summary>
    public string ReduceMean(string x, long[] axes, bool keepDims = true) => Reduce("ReduceMean", x, axes, keepDims);

    /// <summary>Maximum over <paramref name="axes"/> (all axes when empty).</summary>
    public string ReduceMax(string x, long[] axes, bool keepDims = true) => Reduce("ReduceMax", x, axes, keepDims);

    /// <summary>Softmax along one axis.</summary>
    public string Softmax(string x, long axis = -1) => Apply("Softmax", [x], OnnxAttribute.Int("axis", axis));

    /// <summary>Cumulative sum along <paramref name="axis"/>; exclusive leaves out the current element, reverse runs backwards.</summary>
    public string CumSum(string x, long axis, bool exclusive = false, bool reverse = false) =>
        Apply("CumSum", [x, Scalar(axis)], OnnxAttribute.Int("exclusive", exclusive ? 1 : 0), OnnxAttribute.Int("reverse", reverse ? 1 : 0));

    private string Reduce(string opType, string x, long[] axes, bool keepDims) =>
        axes.Length == 0
            ? Apply(opType, [x], OnnxAttribute.Int("keepdims", keepDims ? 1 : 0))
            : Apply(opType, [x], OnnxAttribute.Ints("axes", axes), OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));
}
