using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>Where a training run stood when a checkpoint was written, and what it must match to be resumed.</summary>
/// <param name="Step">Optimizer steps taken.</param>
/// <param name="Epoch">The 1-based epoch the step belongs to.</param>
/// <param name="BatchesDone">Batches of that epoch already trained on.</param>
/// <param name="EpochComplete">Whether the epoch's validation, best-weights and early-stopping bookkeeping is done too.</param>
/// <param name="EpochsWithoutImprovement">Early stopping's count of epochs that did not beat the best.</param>
/// <param name="BestEpoch">The epoch whose weights are kept as the best (0: none).</param>
/// <param name="BestLoss">The best epoch's validation loss.</param>
/// <param name="BestAccuracy">The best epoch's validation accuracy.</param>
/// <param name="Run">What the run was: a checkpoint of another run is refused.</param>
/// <param name="EpochReports">The end-of-epoch reports so far.</param>
/// <param name="OptimizerSteps">Per optimizer slot, the updates it has had.</param>
internal sealed record TrainingCheckpointHeader(
    int Step, int Epoch, int BatchesDone, bool EpochComplete, int EpochsWithoutImprovement,
    int BestEpoch, double? BestLoss, double? BestAccuracy, CheckpointRun Run,
    IReadOnlyList<TrainingMetrics> EpochReports, IReadOnlyList<long> OptimizerSteps);

/// <summary>The facts of a run that a checkpoint must share to be resumed: the same data size, schedule and seed.</summary>
internal sealed record CheckpointRun(int StepsPerEpoch, int Epochs, int Seed, int BatchSize);

/// <summary>
/// One training checkpoint on disk: a JSON header (<see cref="TrainingCheckpointHeader"/>) and named tensors (weights,
/// optimizer moments, best weights, random generator states), written atomically through <see cref="AtomicFile"/>.
/// Layout: magic, header length, header, per tensor its raw bytes in the header's order, end magic.
/// </summary>
internal static class TrainingCheckpointFile
{
    private static readonly byte[] Magic = "MoHCkpt1"u8.ToArray();
    private static readonly byte[] EndMagic = "MoHCkEnd"u8.ToArray();
    private static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private sealed record Entry(string Name, ScalarType Type, long[] Shape, long Bytes);

    private sealed record Layout(TrainingCheckpointHeader Header, IReadOnlyList<Entry> Tensors);

    /// <summary>Writes the checkpoint to <paramref name="path"/>, replacing any file there only once it is whole on disk.</summary>
    public static void Write(string path, TrainingCheckpointHeader header, IReadOnlyList<(string Name, Tensor Value)> tensors)
    {
        var payloads = new List<byte[]>(tensors.Count);
        var entries = new List<Entry>(tensors.Count);
        using (var scope = NewDisposeScope())
        {
            foreach (var (name, value) in tensors)
            {
                var host = value.detach().cpu().contiguous();
                byte[] bytes = host.bytes.ToArray();
                payloads.Add(bytes);
                entries.Add(new Entry(name, host.dtype, host.shape, bytes.LongLength));
            }
        }
        byte[] layout = JsonSerializer.SerializeToUtf8Bytes(new Layout(header, entries), Json);
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(layout.Length);
            writer.Write(layout);
            foreach (var payload in payloads) writer.Write(payload);
            writer.Write(EndMagic);
        });
    }

    /// <summary>Reads a checkpoint: its header and its tensors (on the CPU; the caller disposes them).</summary>
    /// <exception cref="InvalidDataException">The file is not a whole checkpoint of this format (the message names it).</exception>
    public static (TrainingCheckpointHeader Header, Dictionary<string, Tensor> Tensors) Read(string path)
    {
        var tensors = new Dictionary<string, Tensor>();
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("not a training checkpoint (wrong magic)");
            int layoutLength = reader.ReadInt32();
            if (layoutLength <= 0 || layoutLength > reader.BaseStream.Length) throw new InvalidDataException($"header length {layoutLength} is impossible");
            var layout = JsonSerializer.Deserialize<Layout>(reader.ReadBytes(layoutLength), Json) ?? throw new InvalidDataException("empty header");
            foreach (var entry in layout.Tensors)
            {
                byte[] bytes = reader.ReadBytes(checked((int)entry.Bytes));
                if (bytes.Length != entry.Bytes) throw new InvalidDataException($"tensor '{entry.Name}' is truncated");
                var tensor = empty(entry.Shape, entry.Type);
                tensor.bytes = bytes;
                tensors[entry.Name] = tensor;
            }
            if (!reader.ReadBytes(EndMagic.Length).AsSpan().SequenceEqual(EndMagic)) throw new InvalidDataException("the end marker is missing");
            return (layout.Header, tensors);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or JsonException or ArgumentException or OverflowException)
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw new InvalidDataException($"Training checkpoint '{path}' is damaged: {e.Message}.", e);
        }
    }
}
