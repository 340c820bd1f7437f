using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// Parses ONNX protobuf bytes back into an <see cref="OnnxModel"/>: initializers, metadata, graph inputs and
/// outputs, nodes and opsets. The bytes are decoded by the ONNX types generated from onnx.proto (the OnnxSharp
/// package); this class checks what a model of ours needs and names the place at fault.
/// </summary>
public static class OnnxModelReader
{
    /// <summary>Parses a whole ONNX model.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, corrupt, not an ONNX model, or use
    /// something this reader does not support (external data, non-tensor types); the message names the place.</exception>
    public static OnnxModel Read(byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"Invalid ONNX model: {BrokenField(bytes)} is truncated or corrupt ({bytes.Length} bytes): {e.Message}", e);
        }

        if (model.IrVersion <= 0) throw new InvalidDataException("Invalid ONNX model: ModelProto has no ir_version.");
        if (model.Graph is not { } graph) throw new InvalidDataException("Invalid ONNX model: ModelProto has no graph.");
        var opsets = new Dictionary<string, long>();
        foreach (var opset in model.OpsetImport)
            if (!opsets.TryAdd(opset.Domain, opset.Version))
                throw new InvalidDataException($"Invalid ONNX model: ModelProto: opset domain '{opset.Domain}' is imported twice.");
        var metadata = new Dictionary<string, string>();
        foreach (var entry in model.MetadataProps)
            if (!metadata.TryAdd(entry.Key, entry.Value))
                throw new InvalidDataException($"Invalid ONNX model: ModelProto: metadata key '{entry.Key}' appears twice.");

        const string Graph = "ModelProto.graph";
        var initializers = graph.Initializer.Select((t, i) => ReadTensor(t, $"{Graph}.initializer[{i}]")).ToList();
        var duplicate = initializers.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidDataException($"Invalid ONNX model: {Graph}: initializer '{duplicate.Key}' appears twice.");
        return new OnnxModel
        {
            IrVersion = model.IrVersion,
            OpsetImports = opsets,
            ProducerName = model.ProducerName,
            ProducerVersion = model.ProducerVersion,
            Metadata = metadata,
            GraphName = graph.Name,
            Nodes = graph.Node.Select((n, i) => ReadNode(n, $"{Graph}.node[{i}]")).ToList(),
            Initializers = initializers,
            Inputs = graph.Input.Select((v, i) => ReadValueInfo(v, $"{Graph}.input[{i}]")).ToList(),
            Outputs = graph.Output.Select((v, i) => ReadValueInfo(v, $"{Graph}.output[{i}]")).ToList(),
        };
    }

    /// <summary>The top-level field of <paramref name="bytes"/> that does not decode, e.g. "ModelProto.graph".</summary>
    private static string BrokenField(byte[] bytes)
    {
        var input = new CodedInputStream(bytes);
        int field = 0;
        try
        {
            while (!input.IsAtEnd)
            {
                field = WireFormat.GetTagFieldNumber(input.ReadTag());
                input.SkipLastField();
            }
        }
        catch (InvalidProtocolBufferException)
        {
        }
        return field switch
        {
            ModelProto.GraphFieldNumber => "ModelProto.graph",
            ModelProto.OpsetImportFieldNumber => "ModelProto.opset_import",
            ModelProto.MetadataPropsFieldNumber => "ModelProto.metadata_props",
            _ => "ModelProto",
        };
    }

    private static OnnxNode ReadNode(NodeProto node, string where)
    {
        if (node.OpType.Length == 0) throw new InvalidDataException($"Invalid ONNX model: {where} ('{node.Name}') has no op_type.");
        var attributes = node.Attribute.Select((a, i) => ReadAttribute(a, $"{where}.attribute[{i}]")).ToList();
        return new OnnxNode(node.OpType, node.Name, [.. node.Input], [.. node.Output], attributes, node.Domain);
    }

    private static OnnxAttribute ReadAttribute(AttributeProto attribute, string where)
    {
        string name = attribute.Name;
        if (name.Length == 0) throw new InvalidDataException($"Invalid ONNX model: {where} has no name.");
        return (OnnxAttributeType)attribute.Type switch
        {
            OnnxAttributeType.Float => OnnxAttribute.Float(name, attribute.F),
            OnnxAttributeType.Int => OnnxAttribute.Int(name, attribute.I),
            OnnxAttributeType.String => OnnxAttribute.String(name, attribute.S.ToStringUtf8()),
            OnnxAttributeType.Tensor => OnnxAttribute.Tensor(name, attribute.T is { } t ? ReadTensor(t, $"{where}.t")
                : throw new InvalidDataException($"Invalid ONNX model: {where} ('{name}') is a TENSOR attribute without a tensor.")),
            OnnxAttributeType.Floats => OnnxAttribute.Floats(name, [.. attribute.Floats]),
            OnnxAttributeType.Ints => OnnxAttribute.Ints(name, [.. attribute.Ints]),
            _ => throw new InvalidDataException(
                $"Invalid ONNX model: {where} ('{name}') has attribute type {(int)attribute.Type}; this reader supports FLOAT, INT, STRING, TENSOR, FLOATS and INTS (AttributeProto.type must be set)."),
        };
    }

    private static OnnxTensorData ReadTensor(TensorProto tensor, string where)
    {
        string name = tensor.Name;
        if (tensor.DataLocation != TensorProto.Types.DataLocation.Default)
            throw new InvalidDataException($"Invalid ONNX model: {where}: tensor '{name}' keeps its data in an external file, which this reader does not support.");
        var elementType = (OnnxElementType)tensor.DataType;
        if (!Enum.IsDefined(elementType))
            throw new InvalidDataException($"Invalid ONNX model: {where} ('{name}') has data_type {tensor.DataType}; this reader supports FLOAT (1), INT8 (3), INT64 (7) and BOOL (9).");
        byte[] rawData = tensor.RawData.Length > 0 || (tensor.FloatData.Count == 0 && tensor.Int64Data.Count == 0 && tensor.Int32Data.Count == 0)
            ? tensor.RawData.ToByteArray()
            : elementType switch
            {
                OnnxElementType.Float => MemoryMarshal.AsBytes(tensor.FloatData.ToArray().AsSpan()).ToArray(),
                OnnxElementType.Int64 => MemoryMarshal.AsBytes(tensor.Int64Data.ToArray().AsSpan()).ToArray(),
                _ => tensor.Int32Data.Select(v => (byte)v).ToArray(),   // int8 and bool travel in int32_data, one element per value
            };
        try
        {
            return new OnnxTensorData(name, elementType, [.. tensor.Dims], rawData);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Invalid ONNX model: {where}: {e.Message}", e);
        }
    }

    private static OnnxValueInfo ReadValueInfo(ValueInfoProto info, string where)
    {
        string name = info.Name;
        if (info.Type is not { } type) throw new InvalidDataException($"Invalid ONNX model: {where} ('{name}') has no type.");
        if (type.TensorType is not { } tensorType)
            throw new InvalidDataException($"Invalid ONNX model: {where}.type is not a tensor type; this reader supports tensors only.");
        var elementType = (OnnxElementType)tensorType.ElemType;
        if (!Enum.IsDefined(elementType))
            throw new InvalidDataException($"Invalid ONNX model: {where}.type.tensor_type has elem_type {tensorType.ElemType}; this reader supports FLOAT (1), INT8 (3), INT64 (7) and BOOL (9).");
        var dims = tensorType.Shape?.Dim.Select((d, i) => ReadDimension(d, $"{where}.type.tensor_type.shape.dim[{i}]")).ToList();
        return new OnnxValueInfo(name, elementType, dims);
    }

    private static OnnxDim ReadDimension(TensorShapeProto.Types.Dimension dim, string where) => dim.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => dim.DimValue >= 0
            ? OnnxDim.Fixed(dim.DimValue)
            : throw new InvalidDataException($"Invalid ONNX model: {where}: dim_value {dim.DimValue} is negative."),
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when dim.DimParam.Length > 0 => OnnxDim.Symbolic(dim.DimParam),
        _ => OnnxDim.Unknown,
    };
}
