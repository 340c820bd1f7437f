namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>Attribute kinds we write and read; values are ONNX's <c>AttributeProto.AttributeType</c>.</summary>
public enum OnnxAttributeType
{
    /// <summary>One float (<c>f</c>).</summary>
    Float = 1,

    /// <summary>One int64 (<c>i</c>).</summary>
    Int = 2,

    /// <summary>A UTF-8 string (<c>s</c>).</summary>
    String = 3,

    /// <summary>A tensor (<c>t</c>).</summary>
    Tensor = 4,

    /// <summary>A list of floats (<c>floats</c>).</summary>
    Floats = 6,

    /// <summary>A list of int64s (<c>ints</c>).</summary>
    Ints = 7,
}

/// <summary>A node attribute; exactly one value field is set, the one <see cref="Type"/> names.</summary>
public sealed record OnnxAttribute
{
    private OnnxAttribute(string name, OnnxAttributeType type)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Type = type;
    }

    /// <summary>The attribute name, e.g. "axis".</summary>
    public string Name { get; }

    /// <summary>Which value field is set (written to <c>AttributeProto.type</c>, which ONNX Runtime requires).</summary>
    public OnnxAttributeType Type { get; }

    /// <summary>The value of a <see cref="OnnxAttributeType.Float"/> attribute.</summary>
    public float FloatValue { get; private init; }

    /// <summary>The value of an <see cref="OnnxAttributeType.Int"/> attribute.</summary>
    public long IntValue { get; private init; }

    /// <summary>The value of a <see cref="OnnxAttributeType.String"/> attribute.</summary>
    public string? StringValue { get; private init; }

    /// <summary>The value of a <see cref="OnnxAttributeType.Tensor"/> attribute.</summary>
    public OnnxTensorData? TensorValue { get; private init; }

    /// <summary>The value of a <see cref="OnnxAttributeType.Floats"/> attribute.</summary>
    public IReadOnlyList<float> FloatsValue { get; private init; } = [];

    /// <summary>The value of an <see cref="OnnxAttributeType.Ints"/> attribute.</summary>
    public IReadOnlyList<long> IntsValue { get; private init; } = [];

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeType.Float) { FloatValue = value };

    /// <summary>An int attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeType.Int) { IntValue = value };

    /// <summary>A string attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, OnnxAttributeType.String) { StringValue = value };

    /// <summary>A tensor attribute.</summary>
    public static OnnxAttribute Tensor(string name, OnnxTensorData value) => new(name, OnnxAttributeType.Tensor) { TensorValue = value };

    /// <summary>A list-of-floats attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values) => new(name, OnnxAttributeType.Floats) { FloatsValue = values.ToArray() };

    /// <summary>A list-of-ints attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, OnnxAttributeType.Ints) { IntsValue = values.ToArray() };

    /// <inheritdoc />
    public override string ToString() => Type switch
    {
        OnnxAttributeType.Float => $"{Name}={FloatValue}",
        OnnxAttributeType.Int => $"{Name}={IntValue}",
        OnnxAttributeType.String => $"{Name}=\"{StringValue}\"",
        OnnxAttributeType.Tensor => $"{Name}={TensorValue}",
        OnnxAttributeType.Floats => $"{Name}=[{string.Join(", ", FloatsValue)}]",
        _ => $"{Name}=[{string.Join(", ", IntsValue)}]",
    };
}
