namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>Field numbers of the onnx.proto messages we write and read (onnx/onnx, onnx/onnx.proto).</summary>
internal static class OnnxFieldNumbers
{
    internal static class Model
    {
        public const int IrVersion = 1;
        public const int ProducerName = 2;
        public const int ProducerVersion = 3;
        public const int Graph = 7;
        public const int OpsetImport = 8;
        public const int MetadataProps = 14;
    }

    internal static class OperatorSetId
    {
        public const int Domain = 1;
        public const int Version = 2;
    }

    internal static class StringStringEntry
    {
        public const int Key = 1;
        public const int Value = 2;
    }

    internal static class Graph
    {
        public const int Node = 1;
        public const int Name = 2;
        public const int Initializer = 5;
        public const int Input = 11;
        public const int Output = 12;
    }

    internal static class Node
    {
        public const int Input = 1;
        public const int Output = 2;
        public const int Name = 3;
        public const int OpType = 4;
        public const int Attribute = 5;
        public const int Domain = 7;
    }

    internal static class Attribute
    {
        public const int Name = 1;
        public const int F = 2;
        public const int I = 3;
        public const int S = 4;
        public const int T = 5;
        public const int Floats = 7;
        public const int Ints = 8;
        public const int Type = 20;
    }

    internal static class Tensor
    {
        public const int Dims = 1;
        public const int DataType = 2;
        public const int FloatData = 4;
        public const int Int32Data = 5;
        public const int Int64Data = 7;
        public const int Name = 8;
        public const int RawData = 9;
        public const int DataLocation = 14;
    }

    internal static class ValueInfo
    {
        public const int Name = 1;
        public const int Type = 2;
    }

    internal static class TypeProto
    {
        public const int TensorType = 1;
    }

    internal static class TensorTypeProto
    {
        public const int ElemType = 1;
        public const int Shape = 2;
    }

    internal static class TensorShape
    {
        public const int Dim = 1;
    }

    internal static class Dimension
    {
        public const int DimValue = 1;
        public const int DimParam = 2;
    }
}
