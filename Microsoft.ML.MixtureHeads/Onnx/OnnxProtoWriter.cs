using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// Encodes an <see cref="OnnxModel"/> as ONNX protobuf bytes through the ONNX types generated from onnx.proto
/// (the OnnxSharp package), so field numbers and wire types come from the schema, not from us.
/// </summary>
internal static class OnnxProtoWriter
{
    public static byte[] Write(OnnxModel model) => ToProto(model).ToByteArray();

    /// <summary>The model as a <see cref="ModelProto"/>; opsets and metadata in key order, so equal models encode equally.</summary>
    public static ModelProto ToProto(OnnxModel model)
    {
        var proto = new ModelProto { IrVersion = model.IrVersion, ProducerName = model.ProducerName, ProducerVersion = model.ProducerVersion };
        foreach (var (domain, version) in model.OpsetImports.OrderBy(p => p.Key, StringComparer.Ordinal))
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        var graph = new GraphProto { Name = model.GraphName };
        graph.Node.AddRange(model.Nodes.Select(Node));
        graph.Initializer.AddRange(model.Initializers.Select(Tensor));
        graph.Input.AddRange(model.Inputs.Select(ValueInfo));
        graph.Output.AddRange(model.Outputs.Select(ValueInfo));
        proto.Graph = graph;
        foreach (var (key, value) in model.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    private static NodeProto Node(OnnxNode node)
    {
        var proto = new NodeProto { Name = node.Name, OpType = node.OpType };
        if (node.Domain.Length > 0) proto.Domain = node.Domain;
        proto.Input.AddRange(node.Inputs);
        proto.Output.AddRange(node.Outputs);
        proto.Attribute.AddRange(node.Attributes.Select(Attribute));
        return proto;
    }

    private static AttributeProto Attribute(OnnxAttribute attribute)
    {
        var proto = new AttributeProto { Name = attribute.Name, Type = (AttributeProto.Types.AttributeType)attribute.Type };
        switch (attribute.Type)
        {
            case OnnxAttributeType.Float: proto.F = attribute.FloatValue; break;
            case OnnxAttributeType.Int: proto.I = attribute.IntValue; break;
            case OnnxAttributeType.String: proto.S = ByteString.CopyFromUtf8(attribute.StringValue!); break;
            case OnnxAttributeType.Tensor: proto.T = Tensor(attribute.TensorValue!); break;
            case OnnxAttributeType.Floats: proto.Floats.AddRange(attribute.FloatsValue); break;
            case OnnxAttributeType.Ints: proto.Ints.AddRange(attribute.IntsValue); break;
        }
        return proto;
    }

    private static TensorProto Tensor(OnnxTensorData tensor)
    {
        var proto = new TensorProto { Name = tensor.Name, DataType = (int)tensor.ElementType, RawData = UnsafeByteOperations.UnsafeWrap(tensor.RawData) };
        proto.Dims.AddRange(tensor.Dims);
        return proto;
    }

    private static ValueInfoProto ValueInfo(OnnxValueInfo info)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)info.ElementType };
        if (info.Dims is { } dims)
        {
            tensorType.Shape = new TensorShapeProto();
            tensorType.Shape.Dim.AddRange(dims.Select(Dimension));
        }
        return new ValueInfoProto { Name = info.Name, Type = new TypeProto { TensorType = tensorType } };
    }

    private static TensorShapeProto.Types.Dimension Dimension(OnnxDim dim) =>
        dim.Symbol is { } symbol ? new() { DimParam = symbol }
        : dim.Value is { } value ? new() { DimValue = value }
        : new();
}
