using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// A named tensor as ONNX stores it (initializers, attribute tensors): element type, dims and the
/// elements as little-endian bytes in row-major order.
/// </summary>
public sealed class OnnxTensorData
{
    /// <summary>Creates tensor data, checking that <paramref name="rawData"/> holds exactly the elements of <paramref name="dims"/>.</summary>
    public OnnxTensorData(string name, OnnxElementType elementType, long[] dims, byte[] rawData)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this platform is big-endian.");
        long expected = ByteCount(name, elementType, dims);
        if (rawData.Length != expected)
            throw new ArgumentException(
                $"Tensor '{name}' of {elementType}[{string.Join(", ", dims)}] needs {expected} bytes, got {rawData.Length}.", nameof(rawData));
        Name = name;
        ElementType = elementType;
        Dims = dims.ToArray();
        RawData = rawData;
    }

    /// <summary>The tensor name (for initializers: the TorchSharp state-dict name).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public OnnxElementType ElementType { get; }

    /// <summary>The shape; empty for a scalar.</summary>
    public IReadOnlyList<long> Dims { get; }

    /// <summary>The elements, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> RawData { get; }

    /// <summary>Copies a float32, int64, int8 or bool TorchSharp tensor (any device, any layout).</summary>
    public static OnnxTensorData FromTensor(string name, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var elementType = ElementTypeOf(value.dtype)
            ?? throw new ArgumentException($"Tensor '{name}' has dtype {value.dtype}; ONNX export supports Float32, Int64, Int8 and Bool.", nameof(value));
        using var detached = value.detach();
        using var cpu = detached.cpu();
        using var contiguous = cpu.contiguous();
        return new OnnxTensorData(name, elementType, value.shape, contiguous.bytes.ToArray());
    }

    /// <summary>Float elements with the given shape.</summary>
    public static OnnxTensorData FromFloats(string name, float[] values, params long[] dims) =>
        new(name, OnnxElementType.Float, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Int64 elements with the given shape.</summary>
    public static OnnxTensorData FromInt64s(string name, long[] values, params long[] dims) =>
        new(name, OnnxElementType.Int64, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>Bool elements with the given shape.</summary>
    public static OnnxTensorData FromBools(string name, bool[] values, params long[] dims) =>
        new(name, OnnxElementType.Bool, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>A new CPU TorchSharp tensor holding a copy of these elements.</summary>
    public Tensor ToTensor()
    {
        var tensor = empty(Dims.ToArray(), ScalarTypeOf(ElementType));
        RawData.Span.CopyTo(tensor.bytes);
        return tensor;
    }

    /// <summary>The elements as floats; throws unless the element type is <see cref="OnnxElementType.Float"/>.</summary>
    public float[] ToFloats() => Elements<float>(OnnxElementType.Float);

    /// <summary>The elements as int64s; throws unless the element type is <see cref="OnnxElementType.Int64"/>.</summary>
    public long[] ToInt64s() => Elements<long>(OnnxElementType.Int64);

    /// <summary>True when both hold the same element type, dims and bytes (names may differ).</summary>
    public bool ContentEquals(OnnxTensorData other) =>
        ElementType == other.ElementType && Dims.SequenceEqual(other.Dims) && RawData.Span.SequenceEqual(other.RawData.Span);

    /// <summary>Bytes per element of <paramref name="elementType"/>.</summary>
    public static int ElementSize(OnnxElementType elementType) => elementType switch
    {
        OnnxElementType.Float => 4,
        OnnxElementType.Int64 => 8,
        OnnxElementType.Int8 or OnnxElementType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unsupported ONNX element type."),
    };

    /// <summary>The ONNX element type of a TorchSharp dtype, or null when ONNX export does not support it.</summary>
    internal static OnnxElementType? ElementTypeOf(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => OnnxElementType.Float,
        ScalarType.Int64 => OnnxElementType.Int64,
        ScalarType.Int8 => OnnxElementType.Int8,
        ScalarType.Bool => OnnxElementType.Bool,
        _ => null,
    };

    /// <summary>The TorchSharp dtype of an ONNX element type.</summary>
    internal static ScalarType ScalarTypeOf(OnnxElementType elementType) => elementType switch
    {
        OnnxElementType.Float => ScalarType.Float32,
        OnnxElementType.Int64 => ScalarType.Int64,
        OnnxElementType.Int8 => ScalarType.Int8,
        OnnxElementType.Bool => ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unsupported ONNX element type."),
    };

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Dims)}]";

    private static long ByteCount(string name, OnnxElementType elementType, long[] dims)
    {
        if (dims.Any(d => d < 0))
            throw new ArgumentException($"Tensor '{name}' has a negative dimension in [{string.Join(", ", dims)}].", nameof(dims));
        try
        {
            long count = 1;
            foreach (long d in dims) count = checked(count * d);
            return checked(count * ElementSize(elementType));
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"Tensor '{name}' dims [{string.Join(", ", dims)}] are too large.", nameof(dims));
        }
    }

    private T[] Elements<T>(OnnxElementType expected) where T : struct =>
        ElementType == expected
            ? MemoryMarshal.Cast<byte, T>(RawData.Span).ToArray()
            : throw new InvalidOperationException($"Tensor '{Name}' holds {ElementType}, not {expected}.");
}
