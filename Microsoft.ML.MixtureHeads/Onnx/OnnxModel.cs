using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// An ONNX model in memory: what <see cref="OnnxGraphBuilder"/> writes and <see cref="OnnxModelReader"/> reads back.
/// </summary>
public sealed class OnnxModel
{
    private readonly IReadOnlyList<OnnxTensorData> _initializers = [];
    private readonly Dictionary<string, OnnxTensorData> _initializersByName = [];

    /// <summary>ONNX IR version (<c>ModelProto.ir_version</c>).</summary>
    public required long IrVersion { get; init; }

    /// <summary>Operator set version per domain ("" is the default ONNX domain).</summary>
    public required IReadOnlyDictionary<string, long> OpsetImports { get; init; }

    /// <summary>The default-domain opset version, or 0 when the model imports none.</summary>
    public long OpsetVersion => OpsetImports.GetValueOrDefault("");

    /// <summary>Name of the tool that wrote the model.</summary>
    public string ProducerName { get; init; } = "";

    /// <summary>Version of the tool that wrote the model.</summary>
    public string ProducerVersion { get; init; } = "";

    /// <summary>The graph name.</summary>
    public string GraphName { get; init; } = "";

    /// <summary><c>metadata_props</c>: model configuration and format version, among others.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Graph inputs (initializers are not listed here).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs { get; init; } = [];

    /// <summary>Graph outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; init; } = [];

    /// <summary>Nodes in topological order.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; init; } = [];

    /// <summary>Initializers in the order they were written; names are distinct.</summary>
    public IReadOnlyList<OnnxTensorData> Initializers
    {
        get => _initializers;
        init
        {
            _initializers = value;
            foreach (var tensor in value)
                if (!_initializersByName.TryAdd(tensor.Name, tensor))
                    throw new ArgumentException($"Initializer '{tensor.Name}' appears twice.", nameof(Initializers));
        }
    }

    /// <summary>The initializer called <paramref name="name"/>, or null.</summary>
    public OnnxTensorData? FindInitializer(string name) => _initializersByName.GetValueOrDefault(name);

    /// <summary>The initializer called <paramref name="name"/> as a new CPU tensor.</summary>
    /// <exception cref="KeyNotFoundException">No initializer has that name.</exception>
    public Tensor InitializerTensor(string name) =>
        (FindInitializer(name) ?? throw new KeyNotFoundException($"The ONNX model has no initializer '{name}'.")).ToTensor();
}
