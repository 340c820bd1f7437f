using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>Reads and writes the tensor bundle format of reference/tensorbundle.py (float32, int64, float64).</summary>
public static class TensorBundle
{
    private static readonly byte[] Magic = "MHTB"u8.ToArray();

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream, Encoding.UTF8);
        writer.Write(Magic);
        writer.Write(1u);
        writer.Write((uint)tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            byte[] encoded = Encoding.UTF8.GetBytes(name);
            writer.Write((uint)encoded.Length);
            writer.Write(encoded);
            using var contiguous = tensor.detach().cpu().contiguous();
            writer.Write(contiguous.dtype switch
            {
                ScalarType.Float32 => (byte)0,
                ScalarType.Int64 => (byte)1,
                ScalarType.Float64 => (byte)2,
                _ => throw new ArgumentException($"Tensor '{name}' has dtype {contiguous.dtype}; bundles hold float32, int64, float64."),
            });
            writer.Write((uint)contiguous.dim());
            foreach (long size in contiguous.shape) writer.Write(size);
            writer.Write(contiguous.bytes);
        }
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        if (!reader.ReadBytes(4).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path}: not a tensor bundle");
        uint version = reader.ReadUInt32();
        if (version != 1) throw new InvalidDataException($"{path}: bundle version {version}, expected 1");
        uint count = reader.ReadUInt32();
        var tensors = new Dictionary<string, Tensor>();
        for (uint i = 0; i < count; i++)
        {
            string name = Encoding.UTF8.GetString(reader.ReadBytes((int)reader.ReadUInt32()));
            byte code = reader.ReadByte();
            var shape = new long[reader.ReadUInt32()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
            long elements = shape.Aggregate(1L, (a, b) => a * b);
            (ScalarType type, int width) = code switch
            {
                0 => (ScalarType.Float32, 4),
                1 => (ScalarType.Int64, 8),
                2 => (ScalarType.Float64, 8),
                _ => throw new InvalidDataException($"{path}: tensor '{name}' has unknown dtype code {code}"),
            };
            var tensor = empty(shape, type);
            tensor.bytes = reader.ReadBytes(checked((int)(elements * width)));
            tensors[name] = tensor;
        }
        return tensors;
    }
}
