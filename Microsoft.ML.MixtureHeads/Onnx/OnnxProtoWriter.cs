using Google.Protobuf;
using F = Microsoft.ML.MixtureHeads.Onnx.OnnxFieldNumbers;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// Encodes an <see cref="OnnxModel"/> as ONNX protobuf bytes with <see cref="CodedOutputStream"/>, one method per
/// onnx.proto message. Repeated scalars that onnx.proto declares unpacked (dims, ints, floats) are written unpacked.
/// </summary>
internal static class OnnxProtoWriter
{
    public static byte[] Write(OnnxModel model)
    {
        using var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
            WriteModel(output, model);
        return buffer.ToArray();
    }

    private static void WriteModel(CodedOutputStream output, OnnxModel model)
    {
        WriteInt64(output, F.Model.IrVersion, model.IrVersion);
        WriteString(output, F.Model.ProducerName, model.ProducerName);
        WriteString(output, F.Model.ProducerVersion, model.ProducerVersion);
        foreach (var (domain, version) in model.OpsetImports.OrderBy(p => p.Key, StringComparer.Ordinal))
            WriteMessage(output, F.Model.OpsetImport, o => WriteOperatorSetId(o, domain, version));
        WriteMessage(output, F.Model.Graph, o => WriteGraph(o, model));
        foreach (var (key, value) in model.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            WriteMessage(output, F.Model.MetadataProps, o => WriteStringStringEntry(o, key, value));
    }

    private static void WriteOperatorSetId(CodedOutputStream output, string domain, long version)
    {
        WriteString(output, F.OperatorSetId.Domain, domain);
        WriteInt64(output, F.OperatorSetId.Version, version);
    }

    private static void WriteStringStringEntry(CodedOutputStream output, string key, string value)
    {
        WriteString(output, F.StringStringEntry.Key, key);
        WriteString(output, F.StringStringEntry.Value, value);
    }

    private static void WriteGraph(CodedOutputStream output, OnnxModel model)
    {
        WriteString(output, F.Graph.Name, model.GraphName);
        foreach (var node in model.Nodes)
            WriteMessage(output, F.Graph.Node, o => WriteNode(o, node));
        foreach (var tensor in model.Initializers)
            WriteMessage(output, F.Graph.Initializer, o => WriteTensor(o, tensor));
        foreach (var input in model.Inputs)
            WriteMessage(output, F.Graph.Input, o => WriteValueInfo(o, input));
        foreach (var graphOutput in model.Outputs)
            WriteMessage(output, F.Graph.Output, o => WriteValueInfo(o, graphOutput));
    }

    private static void WriteNode(CodedOutputStream output, OnnxNode node)
    {
        foreach (var input in node.Inputs)
            WriteString(output, F.Node.Input, input);
        foreach (var nodeOutput in node.Outputs)
            WriteString(output, F.Node.Output, nodeOutput);
        WriteString(output, F.Node.Name, node.Name);
        WriteString(output, F.Node.OpType, node.OpType);
        if (node.Domain.Length > 0)
            WriteString(output, F.Node.Domain, node.Domain);
        foreach (var attribute in node.Attributes)
            WriteMessage(output, F.Node.Attribute, o => WriteAttribute(o, attribute));
    }

    private static void WriteAttribute(CodedOutputStream output, OnnxAttribute attribute)
    {
        WriteString(output, F.Attribute.Name, attribute.Name);
        WriteInt64(output, F.Attribute.Type, (long)attribute.Type);
        switch (attribute.Type)
        {
            case OnnxAttributeType.Float:
                WriteFloat(output, F.Attribute.F, attribute.FloatValue);
                break;
            case OnnxAttributeType.Int:
                WriteInt64(output, F.Attribute.I, attribute.IntValue);
                break;
            case OnnxAttributeType.String:
                WriteString(output, F.Attribute.S, attribute.StringValue!);
                break;
            case OnnxAttributeType.Tensor:
                WriteMessage(output, F.Attribute.T, o => WriteTensor(o, attribute.TensorValue!));
                break;
            case OnnxAttributeType.Floats:
                foreach (var value in attribute.FloatsValue)
                    WriteFloat(output, F.Attribute.Floats, value);
                break;
            case OnnxAttributeType.Ints:
                foreach (var value in attribute.IntsValue)
                    WriteInt64(output, F.Attribute.Ints, value);
                break;
        }
    }

    private static void WriteTensor(CodedOutputStream output, OnnxTensorData tensor)
    {
        foreach (var dim in tensor.Dims)
            WriteInt64(output, F.Tensor.Dims, dim);
        WriteInt64(output, F.Tensor.DataType, (long)tensor.ElementType);
        WriteString(output, F.Tensor.Name, tensor.Name);
        output.WriteTag(F.Tensor.RawData, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(tensor.RawData));
    }

    private static void WriteValueInfo(CodedOutputStream output, OnnxValueInfo info)
    {
        WriteString(output, F.ValueInfo.Name, info.Name);
        WriteMessage(output, F.ValueInfo.Type, o => WriteTypeProto(o, info));
    }

    private static void WriteTypeProto(CodedOutputStream output, OnnxValueInfo info) =>
        WriteMessage(output, F.TypeProto.TensorType, o => WriteTensorTypeProto(o, info));

    private static void WriteTensorTypeProto(CodedOutputStream output, OnnxValueInfo info)
    {
        WriteInt64(output, F.TensorTypeProto.ElemType, (long)info.ElementType);
        if (info.Dims is { } dims)
            WriteMessage(output, F.TensorTypeProto.Shape, o => WriteTensorShape(o, dims));
    }

    private static void WriteTensorShape(CodedOutputStream output, IReadOnlyList<OnnxDim> dims)
    {
        foreach (var dim in dims)
            WriteMessage(output, F.TensorShape.Dim, o => WriteDimension(o, dim));
    }

    private static void WriteDimension(CodedOutputStream output, OnnxDim dim)
    {
        if (dim.Symbol is { } symbol)
            WriteString(output, F.Dimension.DimParam, symbol);
        else if (dim.Value is { } value)
            WriteInt64(output, F.Dimension.DimValue, value);
    }

    // Wire-format primitives: a tag, then the value.

    private static void WriteInt64(CodedOutputStream output, int field, long value)
    {
        output.WriteTag(field, WireFormat.WireType.Varint);
        output.WriteInt64(value);
    }

    private static void WriteFloat(CodedOutputStream output, int field, float value)
    {
        output.WriteTag(field, WireFormat.WireType.Fixed32);
        output.WriteFloat(value);
    }

    private static void WriteString(CodedOutputStream output, int field, string value)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteString(value);
    }

    /// <summary>A nested message: encoded first, so its length can precede it.</summary>
    private static void WriteMessage(CodedOutputStream output, int field, Action<CodedOutputStream> writeBody)
    {
        using var body = new MemoryStream();
        using (var bodyOutput = new CodedOutputStream(body, leaveOpen: true))
            writeBody(bodyOutput);
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(UnsafeByteOperations.UnsafeWrap(new ReadOnlyMemory<byte>(body.GetBuffer(), 0, (int)body.Length)));
    }
}
