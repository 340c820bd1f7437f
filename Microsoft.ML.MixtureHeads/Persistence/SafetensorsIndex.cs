using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>One tensor's entry in a safetensors header: dtype name (F32, ...), shape, and byte range in the data section.</summary>
internal sealed record SafetensorsEntry(string DType, long[] Shape, long Begin, long End);

/// <summary>
/// Reads and checks the header of a safetensors file (8-byte little-endian length, UTF-8 JSON
/// <c>{name: {dtype, shape, data_offsets}}</c>, then the data), so that a bad file is reported naming the file and the
/// tensor before any tensor is read.
/// </summary>
internal static class SafetensorsIndex
{
    private const long MaxHeaderBytes = 100L << 20;

    private static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    /// <summary>The tensors listed in <paramref name="path"/>'s header, by name (the optional <c>__metadata__</c> left out).</summary>
    /// <exception cref="InvalidDataException">The file is not a well-formed safetensors file (the message names the file and the tensor).</exception>
    public static IReadOnlyDictionary<string, SafetensorsEntry> Read(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (stream.Read(prefix) != 8) throw Bad(path, $"{stream.Length} bytes, too short for a safetensors header.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes || 8 + (long)headerLength > stream.Length)
            throw Bad(path, $"the header length {headerLength} does not fit in a file of {stream.Length} bytes.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataBytes = stream.Length - 8 - (long)headerLength;

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(Encoding.UTF8.GetString(header)).RootElement;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object) throw Bad(path, "the safetensors header is not a JSON object.");

        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == "__metadata__") continue;
            entries[property.Name] = Entry(path, property.Name, property.Value, dataBytes);
        }
        return entries;
    }

    private static SafetensorsEntry Entry(string path, string name, JsonElement value, long dataBytes)
    {
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw Bad(path, $"tensor '{name}' lacks a dtype, shape or data_offsets [begin, end].");
        string type = dtype.GetString()!;
        if (!ElementSizes.TryGetValue(type, out int size)) throw Bad(path, $"tensor '{name}' has the unknown dtype '{type}'.");
        long[] dims = shape.EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Number && d.TryGetInt64(out long v) && v >= 0 ? v : -1).ToArray();
        if (dims.Any(d => d < 0)) throw Bad(path, $"tensor '{name}' has an invalid shape {shape.GetRawText()}.");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end))
            throw Bad(path, $"tensor '{name}' has non-integer data_offsets {offsets.GetRawText()}.");
        long expected = dims.Aggregate(1L, (a, d) => a * d) * size;
        if (begin < 0 || end < begin || end > dataBytes || end - begin != expected)
            throw Bad(path, $"tensor '{name}' ({type} [{string.Join(", ", dims)}]) has data_offsets [{begin}, {end}]; it needs {expected} bytes within the {dataBytes} data bytes.");
        return new SafetensorsEntry(type, dims, begin, end);
    }

    private static InvalidDataException Bad(string path, string problem) => new($"{path}: {problem}");
}
