namespace Microsoft.ML.MixtureHeads.Onnx;

// Gathering, scattering and selecting by index (indices are int64).
public sealed partial class OnnxGraphBuilder
{
    /// <summary>Picks slices of <paramref name="data"/> along <paramref name="axis"/> (an embedding lookup at axis 0).</summary>
    public string Gather(string data, string indices, long axis = 0) => Apply("Gather", [data, indices], OnnxAttribute.Int("axis", axis));

    /// <summary>torch.gather: out[i][j] = data[indices[i][j]][j] for axis 0, and so on.</summary>
    public string GatherElements(string data, string indices, long axis) =>
        Apply("GatherElements", [data, indices], OnnxAttribute.Int("axis", axis));

    /// <summary>torch.scatter: a copy of <paramref name="data"/> with <paramref name="updates"/> written at
    /// <paramref name="indices"/> along <paramref name="axis"/>; <paramref name="reduction"/> is "none", "add" or "mul".</summary>
    public string ScatterElements(string data, string indices, string updates, long axis, string reduction = "none") =>
        Apply("ScatterElements", [data, indices, updates], OnnxAttribute.Int("axis", axis), OnnxAttribute.String("reduction", reduction));

    /// <summary>A copy of <paramref name="data"/> with <paramref name="updates"/> written at the index tuples in the last
    /// dimension of <paramref name="indices"/>; <paramref name="reduction"/> is "none", "add" or "mul".</summary>
    public string ScatterND(string data, string indices, string updates, string reduction = "none") =>
        Apply("ScatterND", [data, indices, updates], OnnxAttribute.String("reduction", reduction));

    /// <summary>The <paramref name="k"/> largest (or smallest) entries along <paramref name="axis"/> and their int64 indices.</summary>
    /// <param name="x">The input.</param>
    /// <param name="k">An int64 tensor of shape [1] (ONNX takes k as an input, not an attribute).</param>
    /// <param name="axis">The axis to select along.</param>
    /// <param name="largest">True for the largest entries.</param>
    /// <param name="sorted">True to return them in order.</param>
    public (string Values, string Indices) TopK(string x, string k, long axis = -1, bool largest = true, bool sorted = true)
    {
        var outputs = Node("TopK", [x, k], 2,
            OnnxAttribute.Int("axis", axis), OnnxAttribute.Int("largest", largest ? 1 : 0), OnnxAttribute.Int("sorted", sorted ? 1 : 0));
        return (outputs[0], outputs[1]);
    }

    /// <summary>TopK with a fixed <paramref name="k"/>.</summary>
    public (string Values, string Indices) TopK(string x, long k, long axis = -1, bool largest = true, bool sorted = true) =>
        TopK(x, Vector(k), axis, largest, sorted);

    /// <summary>One-hot encoding: a new axis of size <paramref name="depth"/> holding values[1] at the index, values[0] elsewhere.</summary>
    /// <param name="indices">Int64 indices.</param>
    /// <param name="depth">A scalar: the number of classes.</param>
    /// <param name="values">A two-element tensor [off, on]; the output takes its type.</param>
    /// <param name="axis">Where the new axis goes.</param>
    public string OneHot(string indices, string depth, string values, long axis = -1) =>
        Apply("OneHot", [indices, depth, values], OnnxAttribute.Int("axis", axis));

    /// <summary>Float one-hot encoding with fixed depth, 0 off and 1 on.</summary>
    public string OneHot(string indices, long depth, long axis = -1) =>
        OneHot(indices, Scalar(depth), Constant([0f, 1f], 2), axis);

    /// <summary>Int64 indices of the maximum along <paramref name="axis"/> (first one on ties).</summary>
    public string ArgMax(string x, long axis, bool keepDims = true) =>
        Apply("ArgMax", [x], OnnxAttribute.Int("axis", axis), OnnxAttribute.Int("keepdims", keepDims ? 1 : 0));

    /// <summary>Indices of the non-zero elements, int64 of shape [rank, count].</summary>
    public string NonZero(string x) => Apply("NonZero", [x]);
}
