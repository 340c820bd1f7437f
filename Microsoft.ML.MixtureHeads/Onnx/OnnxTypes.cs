using System.Globalization;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>Element types of ONNX tensors we write and read; values are ONNX's <c>TensorProto.DataType</c>.</summary>
public enum OnnxElementType
{
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,

    /// <summary>Signed 8-bit integer (BitLinear's ternary weights).</summary>
    Int8 = 3,

    /// <summary>Signed 64-bit integer (indices, shapes).</summary>
    Int64 = 7,

    /// <summary>Boolean, one byte per element.</summary>
    Bool = 9,
}

/// <summary>
/// One dimension of a declared tensor shape: a fixed size, a symbolic name such as "batch", or unknown
/// (<see cref="Unknown"/>, the default).
/// </summary>
public readonly record struct OnnxDim
{
    private OnnxDim(long? value, string? symbol) => (Value, Symbol) = (value, symbol);

    /// <summary>A dimension with neither a size nor a name.</summary>
    public static OnnxDim Unknown => default;

    /// <summary>The fixed size, or null for a symbolic or unknown dimension.</summary>
    public long? Value { get; }

    /// <summary>The symbolic name, or null for a fixed or unknown dimension.</summary>
    public string? Symbol { get; }

    /// <summary>A fixed dimension.</summary>
    public static OnnxDim Fixed(long value) =>
        value >= 0 ? new(value, null) : throw new ArgumentOutOfRangeException(nameof(value), value, "A dimension cannot be negative.");

    /// <summary>A symbolic dimension, e.g. "batch" or "sequence".</summary>
    public static OnnxDim Symbolic(string name) =>
        string.IsNullOrEmpty(name) ? throw new ArgumentException("A symbolic dimension needs a name.", nameof(name)) : new(null, name);

    /// <summary>A fixed dimension.</summary>
    public static implicit operator OnnxDim(long value) => Fixed(value);

    /// <summary>A symbolic dimension.</summary>
    public static implicit operator OnnxDim(string name) => Symbolic(name);

    /// <inheritdoc />
    public override string ToString() => Symbol ?? Value?.ToString(CultureInfo.InvariantCulture) ?? "?";
}

/// <summary>A graph input or output: its name, element type and shape.</summary>
/// <param name="Name">The value name; for ML.NET it must equal the column name.</param>
/// <param name="ElementType">The tensor element type.</param>
/// <param name="Dims">The shape, one entry per dimension; null when even the rank is unknown.</param>
public sealed record OnnxValueInfo(string Name, OnnxElementType ElementType, IReadOnlyList<OnnxDim>? Dims)
{
    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType}[{(Dims is null ? "?" : string.Join(", ", Dims))}]";
}
