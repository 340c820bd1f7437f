using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// Builds an ONNX graph (opset 17, IR 8) that layers emit themselves into, next to their forward: graph inputs and
/// outputs, initializers under TorchSharp state-dict names, constants, nodes with unique scoped names, metadata.
/// Every op helper returns the name of the value it produces.
/// </summary>
/// <remarks>Names are checked as they are used: a node may only read values already defined, and no name is
/// defined twice, so a graph that builds is well-formed before ONNX Runtime sees it.</remarks>
public sealed partial class OnnxGraphBuilder
{
    /// <summary>The ONNX IR version written (ONNX Runtime 1.31 loads it).</summary>
    public const long IrVersion = 8;

    /// <summary>The default-domain opset written; op helpers follow its signatures.</summary>
    public const long OpsetVersion = 17;

    private readonly List<OnnxValueInfo> _inputs = [];
    private readonly List<OnnxValueInfo> _outputs = [];
    private readonly List<OnnxNode> _nodes = [];
    private readonly List<OnnxTensorData> _initializers = [];
    private readonly Dictionary<string, OnnxTensorData> _initializersByName = [];
    private readonly Dictionary<string, string> _constantsByContent = [];
    private readonly HashSet<string> _values = [];
    private readonly Dictionary<string, string> _metadata = [];
    private readonly List<string> _scopes = [];
    private int _nextId;

    /// <summary>Written to <c>ModelProto.producer_name</c>.</summary>
    public string ProducerName { get; set; } = "Microsoft.ML.MixtureHeads";

    /// <summary>Written to <c>ModelProto.producer_version</c>.</summary>
    public string ProducerVersion { get; set; } = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString() ?? "";

    /// <summary>Written to <c>GraphProto.name</c>.</summary>
    public string GraphName { get; set; } = "main";

    /// <summary>Declares a graph input; for ML.NET, <paramref name="name"/> must equal the input column name.</summary>
    /// <param name="name">The input name.</param>
    /// <param name="elementType">Its element type.</param>
    /// <param name="dims">Its shape: sizes and symbolic names such as "batch".</param>
    /// <returns><paramref name="name"/>, for chaining into nodes.</returns>
    public string Input(string name, OnnxElementType elementType, params OnnxDim[] dims)
    {
        Define(name);
        _inputs.Add(new OnnxValueInfo(name, elementType, dims.ToArray()));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> a graph output called <paramref name="name"/> (an Identity node
    /// renames it when the names differ); for ML.NET the name must equal the output column name.</summary>
    public void Output(string value, string name, OnnxElementType elementType, params OnnxDim[] dims)
    {
        if (_outputs.Any(o => o.Name == name))
            throw new ArgumentException($"Graph output '{name}' is already declared.", nameof(name));
        if (value != name)
        {
            RequireDefined(value, "Output");
            Define(name);
            _nodes.Add(new OnnxNode("Identity", NewName("Identity"), [value], [name], []));
        }
        RequireDefined(name, "Output");
        _outputs.Add(new OnnxValueInfo(name, elementType, dims.ToArray()));
    }

    /// <summary>
    /// Stores a TorchSharp tensor (float32, int64, int8 or bool) as an initializer under its state-dict name,
    /// copying its current values. Registering the same name again with equal content returns the same
    /// initializer; different content is an error.
    /// </summary>
    /// <returns><paramref name="name"/>.</returns>
    /// <exception cref="InvalidOperationException">The name is already used with other content, or by a non-initializer.</exception>
    public string Initializer(string name, Tensor value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var data = OnnxTensorData.FromTensor(name, value);
        if (_initializersByName.TryGetValue(name, out var existing))
        {
            return existing.ContentEquals(data)
                ? name
                : throw new InvalidOperationException($"Initializer '{name}' is already registered as {existing} with other content; cannot store {data}.");
        }
        return AddInitializer(data);
    }

    /// <summary>A float constant of shape <paramref name="dims"/> (an auto-named initializer; equal constants are shared).</summary>
    public string Constant(float[] values, params long[] dims) => AddConstant(OnnxTensorData.FromFloats("", values, dims));

    /// <summary>An int64 constant of shape <paramref name="dims"/> (an auto-named initializer; equal constants are shared).</summary>
    public string Constant(long[] values, params long[] dims) => AddConstant(OnnxTensorData.FromInt64s("", values, dims));

    /// <summary>A bool constant of shape <paramref name="dims"/> (an auto-named initializer; equal constants are shared).</summary>
    public string Constant(bool[] values, params long[] dims) => AddConstant(OnnxTensorData.FromBools("", values, dims));

    /// <summary>A float scalar (rank 0) constant.</summary>
    public string Scalar(float value) => Constant(new[] { value });

    /// <summary>An int64 scalar (rank 0) constant.</summary>
    public string Scalar(long value) => Constant(new[] { value });

    /// <summary>An int64 vector constant, e.g. axes or a shape.</summary>
    public string Vector(params long[] values) => Constant(values, values.Length);

    /// <summary>
    /// Adds a node. Its outputs get unique names from the current <see cref="Scope"/>; inputs must already be
    /// defined ("" stands for an omitted optional input).
    /// </summary>
    /// <param name="opType">The ONNX operator (default domain, opset 17).</param>
    /// <param name="inputs">Input value names.</param>
    /// <param name="outputCount">How many outputs to name.</param>
    /// <param name="attributes">Attributes; see the <see cref="OnnxAttribute"/> factories.</param>
    /// <returns>The output value names.</returns>
    public string[] Node(string opType, string[] inputs, int outputCount = 1, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputCount);
        foreach (var input in inputs)
            if (input.Length > 0) RequireDefined(input, opType);
        if (attributes.Select(a => a.Name).Distinct().Count() != attributes.Length)
            throw new ArgumentException($"{opType}: attribute names repeat ({string.Join(", ", attributes.Select(a => a.Name))}).", nameof(attributes));
        string name = NewName(opType);
        var outputs = outputCount == 1 ? [name] : Enumerable.Range(0, outputCount).Select(i => $"{name}:{i}").ToArray();
        foreach (var output in outputs) Define(output);
        _nodes.Add(new OnnxNode(opType, name, inputs.ToArray(), outputs, attributes.ToArray()));
        return outputs;
    }

    /// <summary>Prefixes the names of nodes and constants made until the returned scope is disposed (scopes nest).</summary>
    /// <param name="prefix">Usually the module's state-dict path, e.g. "blocks.0.attn"; "" adds no prefix.</param>
    public IDisposable Scope(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length == 0) return new ScopeExit(() => { });
        _scopes.Add(prefix);
        int depth = _scopes.Count;
        return new ScopeExit(() =>
        {
            if (_scopes.Count != depth) throw new InvalidOperationException($"Scope '{prefix}' closed out of order.");
            _scopes.RemoveAt(depth - 1);
        });
    }

    /// <summary>The state-dict name of parameter <paramref name="name"/> in the module at <paramref name="prefix"/>
    /// ("blocks.0.ffn" + "weight" = "blocks.0.ffn.weight"; a root module has prefix "").</summary>
    public static string ParameterName(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";

    /// <summary>Sets a <c>metadata_props</c> entry (model config, format version, ...).</summary>
    public void SetMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata[key] = value;
    }

    /// <summary>The model built so far.</summary>
    /// <exception cref="InvalidOperationException">No output was declared.</exception>
    public OnnxModel ToModel()
    {
        if (_outputs.Count == 0) throw new InvalidOperationException("The graph has no outputs; declare them with Output(...).");
        return new OnnxModel
        {
            IrVersion = IrVersion,
            OpsetImports = new Dictionary<string, long> { [""] = OpsetVersion },
            ProducerName = ProducerName,
            ProducerVersion = ProducerVersion,
            GraphName = GraphName,
            Metadata = new Dictionary<string, string>(_metadata),
            Inputs = _inputs.ToArray(),
            Outputs = _outputs.ToArray(),
            Nodes = _nodes.ToArray(),
            Initializers = _initializers.ToArray(),
        };
    }

    /// <summary>The model as ONNX protobuf bytes (<c>ModelProto</c>, opset 17, IR 8).</summary>
    public byte[] ToBytes() => OnnxProtoWriter.Write(ToModel());

    /// <summary>A single-output node; the typed op helpers use it.</summary>
    private string Apply(string opType, string[] inputs, params OnnxAttribute[] attributes) => Node(opType, inputs, 1, attributes)[0];

    private string AddConstant(OnnxTensorData content)
    {
        string key = $"{content.ElementType}[{string.Join(",", content.Dims)}]:{Convert.ToHexString(content.RawData.Span)}";
        if (_constantsByContent.TryGetValue(key, out var shared)) return shared;
        string name = NewName("const");
        AddInitializer(new OnnxTensorData(name, content.ElementType, [.. content.Dims], content.RawData.ToArray()));
        _constantsByContent[key] = name;
        return name;
    }

    private string AddInitializer(OnnxTensorData data)
    {
        Define(data.Name);
        _initializers.Add(data);
        _initializersByName[data.Name] = data;
        return data.Name;
    }

    private string NewName(string kind)
    {
        string local = $"{kind}_{_nextId++}";
        return _scopes.Count == 0 ? local : $"{string.Join("/", _scopes)}/{local}";
    }

    private void Define(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_values.Add(name))
            throw new InvalidOperationException($"The graph already has a value named '{name}'.");
    }

    private void RequireDefined(string name, string user)
    {
        if (!_values.Contains(name))
            throw new ArgumentException($"{user}: '{name}' is not a graph input, initializer or node output of this graph (yet).");
    }

    private sealed class ScopeExit(Action exit) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            exit();
        }
    }
}
