using System.IO.Compression;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// A trained network read back from what we saved - an ML.NET model .zip or the ONNX graph inside it - with its
/// architecture, every weight and the task's metadata (a classifier's class names), ready to rebuild as a trainable
/// TorchSharp module (for example to continue training through a trainer's <c>InitialModel</c> option).
/// </summary>
public sealed class MixtureHeadsCheckpoint
{
    private readonly OnnxModel _graph;

    private MixtureHeadsCheckpoint(OnnxModel graph, string source)
    {
        _graph = graph;
        if (!graph.Metadata.TryGetValue(ExportedModel.FormatKey, out string? version))
            throw new InvalidDataException($"{source}: the ONNX graph was not exported by Microsoft.ML.MixtureHeads (no '{ExportedModel.FormatKey}' metadata).");
        if (version != ExportedModel.FormatVersion)
            throw new InvalidDataException($"{source}: format version {version}; this library reads version {ExportedModel.FormatVersion}.");
        Kind = Required(graph, ExportedModel.KindKey, source);
        ConfigJson = Required(graph, ExportedModel.ConfigKey, source);
        ClassNames = graph.Metadata.TryGetValue(Training.ClassificationObjective.ClassesKey, out string? classes)
            ? ModelJson.Deserialize<string[]>(classes, source)
            : null;
        Source = source;
    }

    /// <summary>Where the checkpoint was read from, for messages.</summary>
    internal string Source { get; }

    /// <summary>The model family, e.g. "vision_transformer".</summary>
    public string Kind { get; }

    /// <summary>The architecture as JSON.</summary>
    public string ConfigJson { get; }

    /// <summary>The architecture.</summary>
    /// <exception cref="InvalidDataException">The kind is unknown here or the JSON is not one of its configs.</exception>
    public ModelConfig Config => ModelRegistry.ReadConfig(Kind, ConfigJson);

    /// <summary>A classifier's class names in label-key order; null for a model of another task.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>Reads an exported ONNX graph.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a graph exported by this library.</exception>
    public static MixtureHeadsCheckpoint FromOnnx(byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        return new MixtureHeadsCheckpoint(OnnxModelReader.Read(onnxModel), "ONNX model");
    }

    /// <summary>Reads an exported ONNX file.</summary>
    public static MixtureHeadsCheckpoint FromOnnxFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return new MixtureHeadsCheckpoint(OnnxModelReader.Read(File.ReadAllBytes(path)), path);
    }

    /// <summary>Reads the model inside an ML.NET .zip saved with <c>mlContext.Model.Save</c> from a pipeline with one of our trainers.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The zip holds no model of ours, or it is damaged.</exception>
    public static MixtureHeadsCheckpoint FromZip(string zipPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(zipPath);
        if (!File.Exists(zipPath)) throw new FileNotFoundException($"Model file not found: {zipPath}", zipPath);
        try
        {
            using var zip = ZipFile.OpenRead(zipPath);
            foreach (var entry in zip.Entries.Where(e => e.Name == "OnnxModel"))
            {
                // ML.NET's OnnxTransformer stores the graph as an int32 length followed by the bytes.
                using var reader = new BinaryReader(entry.Open());
                int length = reader.ReadInt32();
                byte[] bytes = reader.ReadBytes(length);
                if (bytes.Length != length) throw new InvalidDataException($"{zipPath}: entry {entry.FullName} is truncated.");
                var graph = OnnxModelReader.Read(bytes);
                if (graph.Metadata.ContainsKey(ExportedModel.FormatKey)) return new MixtureHeadsCheckpoint(graph, $"{zipPath}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(zipPath, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{zipPath}: {e.Message}", e);
        }
        throw new InvalidDataException($"{zipPath}: no Microsoft.ML.MixtureHeads model inside (no ONNX stage with our metadata).");
    }

    /// <summary>Builds the network this checkpoint describes (through <see cref="ModelRegistry"/>) and loads every trained weight into it.</summary>
    /// <exception cref="InvalidDataException">The kind is unknown here, the architecture invalid, or a weight missing or of another shape.</exception>
    public IMixtureHeadsNetwork CreateNetwork()
    {
        var network = ModelRegistry.Create(Kind, ConfigJson);
        try
        {
            OnnxStateDict.LoadInto(network.Module, _graph);
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static string Required(OnnxModel graph, string key, string source) =>
        graph.Metadata.TryGetValue(key, out string? value) ? value : throw new InvalidDataException($"{source}: metadata '{key}' is missing.");
}
