using System.Runtime.InteropServices;
using F = Microsoft.ML.MixtureHeads.Onnx.OnnxFieldNumbers;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// Parses ONNX protobuf bytes back into an <see cref="OnnxModel"/>: initializers, metadata, graph inputs and
/// outputs, nodes and opsets; one method per onnx.proto message. Fields it does not use are skipped.
/// </summary>
public static class OnnxModelReader
{
    /// <summary>Parses a whole ONNX model.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, corrupt, not an ONNX model, or use
    /// something this reader does not support (external data, non-tensor types); the message names the place.</exception>
    public static OnnxModel Read(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return ReadModel(new ProtoMessageReader(bytes, 0, bytes.Length, "ModelProto"));
    }

    private static OnnxModel ReadModel(ProtoMessageReader r)
    {
        long irVersion = 0;
        string producerName = "", producerVersion = "";
        var opsets = new Dictionary<string, long>();
        var metadata = new Dictionary<string, string>();
        Graph? graph = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Model.IrVersion: irVersion = r.Int64(); break;
                case F.Model.ProducerName: producerName = r.String(); break;
                case F.Model.ProducerVersion: producerVersion = r.String(); break;
                case F.Model.Graph: graph = ReadGraph(r.Message($"{r.Where}.graph")); break;
                case F.Model.OpsetImport:
                    var (domain, version) = ReadOperatorSetId(r.Message($"{r.Where}.opset_import[{opsets.Count}]"));
                    if (!opsets.TryAdd(domain, version)) throw r.Corrupt($"opset domain '{domain}' is imported twice");
                    break;
                case F.Model.MetadataProps:
                    var (key, value) = ReadStringStringEntry(r.Message($"{r.Where}.metadata_props[{metadata.Count}]"));
                    if (!metadata.TryAdd(key, value)) throw r.Corrupt($"metadata key '{key}' appears twice");
                    break;
                default: r.Skip(); break;
            }
        }
        if (irVersion <= 0) throw new InvalidDataException("Invalid ONNX model: ModelProto has no ir_version.");
        if (graph is null) throw new InvalidDataException("Invalid ONNX model: ModelProto has no graph.");
        return new OnnxModel
        {
            IrVersion = irVersion,
            OpsetImports = opsets,
            ProducerName = producerName,
            ProducerVersion = producerVersion,
            Metadata = metadata,
            GraphName = graph.Name,
            Nodes = graph.Nodes,
            Initializers = graph.Initializers,
            Inputs = graph.Inputs,
            Outputs = graph.Outputs,
        };
    }

    private sealed record Graph(string Name, List<OnnxNode> Nodes, List<OnnxTensorData> Initializers, List<OnnxValueInfo> Inputs, List<OnnxValueInfo> Outputs);

    private static (string Domain, long Version) ReadOperatorSetId(ProtoMessageReader r)
    {
        string domain = "";
        long version = 0;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.OperatorSetId.Domain: domain = r.String(); break;
                case F.OperatorSetId.Version: version = r.Int64(); break;
                default: r.Skip(); break;
            }
        }
        return (domain, version);
    }

    private static (string Key, string Value) ReadStringStringEntry(ProtoMessageReader r)
    {
        string key = "", value = "";
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.StringStringEntry.Key: key = r.String(); break;
                case F.StringStringEntry.Value: value = r.String(); break;
                default: r.Skip(); break;
            }
        }
        return (key, value);
    }

    private static Graph ReadGraph(ProtoMessageReader r)
    {
        var graph = new Graph("", [], [], [], []);
        var initializerNames = new HashSet<string>();
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Graph.Name: graph = graph with { Name = r.String() }; break;
                case F.Graph.Node: graph.Nodes.Add(ReadNode(r.Message($"{r.Where}.node[{graph.Nodes.Count}]"))); break;
                case F.Graph.Input: graph.Inputs.Add(ReadValueInfo(r.Message($"{r.Where}.input[{graph.Inputs.Count}]"))); break;
                case F.Graph.Output: graph.Outputs.Add(ReadValueInfo(r.Message($"{r.Where}.output[{graph.Outputs.Count}]"))); break;
                case F.Graph.Initializer:
                    var tensor = ReadTensor(r.Message($"{r.Where}.initializer[{graph.Initializers.Count}]"));
                    if (!initializerNames.Add(tensor.Name)) throw r.Corrupt($"initializer '{tensor.Name}' appears twice");
                    graph.Initializers.Add(tensor);
                    break;
                default: r.Skip(); break;
            }
        }
        return graph;
    }

    private static OnnxNode ReadNode(ProtoMessageReader r)
    {
        List<string> inputs = [], outputs = [];
        List<OnnxAttribute> attributes = [];
        string name = "", opType = "", domain = "";
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Node.Input: inputs.Add(r.String()); break;
                case F.Node.Output: outputs.Add(r.String()); break;
                case F.Node.Name: name = r.String(); break;
                case F.Node.OpType: opType = r.String(); break;
                case F.Node.Domain: domain = r.String(); break;
                case F.Node.Attribute: attributes.Add(ReadAttribute(r.Message($"{r.Where}.attribute[{attributes.Count}]"))); break;
                default: r.Skip(); break;
            }
        }
        if (opType.Length == 0) throw new InvalidDataException($"Invalid ONNX model: {r.Where} ('{name}') has no op_type.");
        return new OnnxNode(opType, name, inputs, outputs, attributes, domain);
    }

    private static OnnxAttribute ReadAttribute(ProtoMessageReader r)
    {
        string name = "", text = "";
        long type = 0, i = 0;
        float f = 0;
        OnnxTensorData? tensor = null;
        List<long> ints = [];
        List<float> floats = [];
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Attribute.Name: name = r.String(); break;
                case F.Attribute.Type: type = r.Int64(); break;
                case F.Attribute.F: f = r.Float(); break;
                case F.Attribute.I: i = r.Int64(); break;
                case F.Attribute.S: text = r.String(); break;
                case F.Attribute.T: tensor = ReadTensor(r.Message($"{r.Where}.t")); break;
                case F.Attribute.Ints: r.Int64s(ints); break;
                case F.Attribute.Floats: r.Floats(floats); break;
                default: r.Skip(); break;
            }
        }
        if (name.Length == 0) throw new InvalidDataException($"Invalid ONNX model: {r.Where} has no name.");
        return (OnnxAttributeType)type switch
        {
            OnnxAttributeType.Float => OnnxAttribute.Float(name, f),
            OnnxAttributeType.Int => OnnxAttribute.Int(name, i),
            OnnxAttributeType.String => OnnxAttribute.String(name, text),
            OnnxAttributeType.Tensor => OnnxAttribute.Tensor(name, tensor
                ?? throw new InvalidDataException($"Invalid ONNX model: {r.Where} ('{name}') is a TENSOR attribute without a tensor.")),
            OnnxAttributeType.Floats => OnnxAttribute.Floats(name, [.. floats]),
            OnnxAttributeType.Ints => OnnxAttribute.Ints(name, [.. ints]),
            _ => throw new InvalidDataException(
                $"Invalid ONNX model: {r.Where} ('{name}') has attribute type {type}; this reader supports FLOAT, INT, STRING, TENSOR, FLOATS and INTS (AttributeProto.type must be set)."),
        };
    }

    private static OnnxTensorData ReadTensor(ProtoMessageReader r)
    {
        string name = "";
        long dataType = 0;
        List<long> dims = [], int64Data = [], int32Data = [];
        List<float> floatData = [];
        byte[]? rawData = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Tensor.Dims: r.Int64s(dims); break;
                case F.Tensor.DataType: dataType = r.Int64(); break;
                case F.Tensor.Name: name = r.String(); break;
                case F.Tensor.RawData: rawData = r.Bytes($"{r.Where}.raw_data"); break;
                case F.Tensor.FloatData: r.Floats(floatData); break;
                case F.Tensor.Int64Data: r.Int64s(int64Data); break;
                case F.Tensor.Int32Data: r.Int64s(int32Data); break;
                case F.Tensor.DataLocation:
                    if (r.Int64() != 0) throw r.Corrupt($"tensor '{name}' keeps its data in an external file, which this reader does not support");
                    break;
                default: r.Skip(); break;
            }
        }
        var elementType = (OnnxElementType)dataType;
        if (!Enum.IsDefined(elementType))
            throw new InvalidDataException($"Invalid ONNX model: {r.Where} ('{name}') has data_type {dataType}; this reader supports FLOAT (1), INT8 (3), INT64 (7) and BOOL (9).");
        rawData ??= elementType switch
        {
            OnnxElementType.Float => MemoryMarshal.AsBytes(floatData.ToArray().AsSpan()).ToArray(),
            OnnxElementType.Int64 => MemoryMarshal.AsBytes(int64Data.ToArray().AsSpan()).ToArray(),
            _ => int32Data.Select(v => (byte)v).ToArray(),   // int8 and bool travel in int32_data, one element per value
        };
        try
        {
            return new OnnxTensorData(name, elementType, [.. dims], rawData);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Invalid ONNX model: {r.Where}: {e.Message}", e);
        }
    }

    private static OnnxValueInfo ReadValueInfo(ProtoMessageReader r)
    {
        string name = "";
        (OnnxElementType Type, List<OnnxDim>? Dims)? type = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.ValueInfo.Name: name = r.String(); break;
                case F.ValueInfo.Type: type = ReadTypeProto(r.Message($"{r.Where}.type")); break;
                default: r.Skip(); break;
            }
        }
        if (type is not { } t) throw new InvalidDataException($"Invalid ONNX model: {r.Where} ('{name}') has no type.");
        return new OnnxValueInfo(name, t.Type, t.Dims);
    }

    private static (OnnxElementType Type, List<OnnxDim>? Dims) ReadTypeProto(ProtoMessageReader r)
    {
        (OnnxElementType, List<OnnxDim>?)? tensorType = null;
        while (r.Next())
        {
            if (r.Field == F.TypeProto.TensorType) tensorType = ReadTensorTypeProto(r.Message($"{r.Where}.tensor_type"));
            else r.Skip();
        }
        return tensorType ?? throw new InvalidDataException($"Invalid ONNX model: {r.Where} is not a tensor type; this reader supports tensors only.");
    }

    private static (OnnxElementType Type, List<OnnxDim>? Dims) ReadTensorTypeProto(ProtoMessageReader r)
    {
        long elemType = 0;
        List<OnnxDim>? dims = null;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.TensorTypeProto.ElemType: elemType = r.Int64(); break;
                case F.TensorTypeProto.Shape: dims = ReadTensorShape(r.Message($"{r.Where}.shape")); break;
                default: r.Skip(); break;
            }
        }
        var elementType = (OnnxElementType)elemType;
        if (!Enum.IsDefined(elementType))
            throw new InvalidDataException($"Invalid ONNX model: {r.Where} has elem_type {elemType}; this reader supports FLOAT (1), INT8 (3), INT64 (7) and BOOL (9).");
        return (elementType, dims);
    }

    private static List<OnnxDim> ReadTensorShape(ProtoMessageReader r)
    {
        var dims = new List<OnnxDim>();
        while (r.Next())
        {
            if (r.Field == F.TensorShape.Dim) dims.Add(ReadDimension(r.Message($"{r.Where}.dim[{dims.Count}]")));
            else r.Skip();
        }
        return dims;
    }

    private static OnnxDim ReadDimension(ProtoMessageReader r)
    {
        var dim = OnnxDim.Unknown;
        while (r.Next())
        {
            switch (r.Field)
            {
                case F.Dimension.DimValue:
                    long value = r.Int64();
                    dim = value >= 0 ? OnnxDim.Fixed(value) : throw r.Corrupt($"dim_value {value} is negative");
                    break;
                case F.Dimension.DimParam:
                    string symbol = r.String();
                    dim = symbol.Length > 0 ? OnnxDim.Symbolic(symbol) : OnnxDim.Unknown;
                    break;
                default: r.Skip(); break;
            }
        }
        return dim;
    }
}
