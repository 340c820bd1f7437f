namespace Microsoft.ML.MixtureHeads.Onnx;

// Shape manipulation and shape-derived values (opset 13+ passes axes, splits and shapes as int64 inputs).
public sealed partial class OnnxGraphBuilder
{
    /// <summary>Reshapes to a fixed <paramref name="shape"/> (0 keeps the input's size, -1 is inferred).</summary>
    public string Reshape(string x, params long[] shape) => Reshape(x, Vector(shape));

    /// <summary>Reshapes to the int64 shape value <paramref name="shape"/>.</summary>
    public string Reshape(string x, string shape) => Apply("Reshape", [x, shape]);

    /// <summary>Permutes dimensions.</summary>
    public string Transpose(string x, params long[] perm) => Apply("Transpose", [x], OnnxAttribute.Ints("perm", perm));

    /// <summary>Joins inputs along <paramref name="axis"/>.</summary>
    public string Concat(long axis, params string[] inputs) => Apply("Concat", inputs, OnnxAttribute.Int("axis", axis));

    /// <summary>Splits along <paramref name="axis"/> into pieces of the given sizes.</summary>
    public string[] Split(string x, long axis, params long[] sizes) =>
        Node("Split", [x, Vector(sizes)], sizes.Length, OnnxAttribute.Int("axis", axis));

    /// <summary>Splits along <paramref name="axis"/> into <paramref name="pieces"/> pieces whose sizes, an int64
    /// vector value computed in the graph, may be zero.</summary>
    public string[] Split(string x, string sizes, long axis, int pieces) =>
        Node("Split", [x, sizes], pieces, OnnxAttribute.Int("axis", axis));

    /// <summary>Slices with fixed bounds, as numpy's x[starts:ends:steps] on <paramref name="axes"/>.</summary>
    public string Slice(string x, long[] starts, long[] ends, long[] axes, long[]? steps = null) =>
        Slice(x, Vector(starts), Vector(ends), Vector(axes), steps is null ? null : Vector(steps));

    /// <summary>Slices with int64 bound values computed in the graph.</summary>
    public string Slice(string x, string starts, string ends, string? axes = null, string? steps = null) =>
        Apply("Slice", steps is null ? (axes is null ? [x, starts, ends] : [x, starts, ends, axes]) : [x, starts, ends, axes ?? "", steps]);

    /// <summary>Inserts size-1 dimensions at <paramref name="axes"/>.</summary>
    public string Unsqueeze(string x, params long[] axes) => Apply("Unsqueeze", [x, Vector(axes)]);

    /// <summary>Removes the size-1 dimensions at <paramref name="axes"/> (all of them when none are given).</summary>
    public string Squeeze(string x, params long[] axes) => Apply("Squeeze", axes.Length == 0 ? [x] : [x, Vector(axes)]);

    /// <summary>Broadcasts to a fixed <paramref name="shape"/>.</summary>
    public string Expand(string x, params long[] shape) => Expand(x, Vector(shape));

    /// <summary>Broadcasts to the int64 shape value <paramref name="shape"/>.</summary>
    public string Expand(string x, string shape) => Apply("Expand", [x, shape]);

    /// <summary>The shape of <paramref name="x"/> as an int64 vector, optionally only dims [start, end).</summary>
    public string Shape(string x, long? start = null, long? end = null)
    {
        var attributes = new List<OnnxAttribute>();
        if (start is { } s) attributes.Add(OnnxAttribute.Int("start", s));
        if (end is { } e) attributes.Add(OnnxAttribute.Int("end", e));
        return Apply("Shape", [x], [.. attributes]);
    }

    /// <summary>A float tensor of the int64 shape value <paramref name="shape"/>, filled with <paramref name="value"/>.</summary>
    public string ConstantOfShape(string shape, float value) =>
        Apply("ConstantOfShape", [shape], OnnxAttribute.Tensor("value", OnnxTensorData.FromFloats("value", [value], 1)));

    /// <summary>An int64 tensor of the int64 shape value <paramref name="shape"/>, filled with <paramref name="value"/>.</summary>
    public string ConstantOfShape(string shape, long value) =>
        Apply("ConstantOfShape", [shape], OnnxAttribute.Tensor("value", OnnxTensorData.FromInt64s("value", [value], 1)));

    /// <summary>A bool tensor of the int64 shape value <paramref name="shape"/>, filled with <paramref name="value"/>.</summary>
    public string ConstantOfShape(string shape, bool value) =>
        Apply("ConstantOfShape", [shape], OnnxAttribute.Tensor("value", OnnxTensorData.FromBools("value", [value], 1)));

    /// <summary>[start, start + delta, ...) below <paramref name="limit"/>; all three are scalars of one type.</summary>
    public string Range(string start, string limit, string delta) => Apply("Range", [start, limit, delta]);
}
