using Google.Protobuf;
using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Bytes written by <see cref="OnnxGraphBuilder"/> read back by <see cref="OnnxModelReader"/>, and what
/// the reader does with truncated or corrupt bytes.</summary>
public sealed class OnnxModelReaderTests
{
    /// <summary>A model with every element type, awkward float values, symbolic dims, unicode metadata and every
    /// attribute kind.</summary>
    private static OnnxGraphBuilder SampleGraph()
    {
        manual_seed(30);
        var g = new OnnxGraphBuilder();
        var weight = randn(4, 3);
        weight[0, 0] = tensor(float.NaN);
        weight[0, 1] = tensor(-0f);
        weight[0, 2] = tensor(float.PositiveInfinity);
        weight[1, 0] = tensor(float.Epsilon);                                 // the smallest subnormal
        var w = g.Initializer("blocks.0.proj.weight", weight);
        g.Initializer("blocks.0.proj.weight_ternary", tensor(new sbyte[] { -1, 0, 1, 1, 0, -1 }).view(2, 3));
        g.Initializer("positions", tensor(new[] { long.MinValue, -1, 0, 1, long.MaxValue }));
        g.Initializer("keep", tensor(new[] { true, false, false, true }).view(2, 2));
        g.Initializer("temperature", tensor(0.125f));                         // rank 0
        g.SetMetadata("mixtureheads.format", "1");
        g.SetMetadata("mixtureheads.config", "{\"name\":\"moh_vit_tiny\",\"note\":\"ü → 漢\"}");

        var x = g.Input("Features", OnnxElementType.Float, "batch", 4);
        g.Input("TokenIds", OnnxElementType.Int64, "batch", "sequence");
        g.Input("Mask", OnnxElementType.Bool, "batch", "sequence");
        using (g.Scope("head"))
        {
            var logits = g.Gemm(x, w, alpha: 0.5f, transB: false);
            var scaled = g.Node("Mul", [logits, g.Constant([2f, 3f, 4f], 3)], 1)[0];
            var nodeWithEveryAttribute = g.Node("Custom", [scaled], 2,
                OnnxAttribute.Float("f", -1.5f), OnnxAttribute.Int("i", long.MinValue), OnnxAttribute.String("s", "ü"),
                OnnxAttribute.Tensor("t", OnnxTensorData.FromInt64s("t", [7, 8], 2)),
                OnnxAttribute.Floats("floats", 0.25f, float.NegativeInfinity), OnnxAttribute.Ints("ints", -1, 0, long.MaxValue));
            g.Output(g.Softmax(scaled), "Score", OnnxElementType.Float, "batch", 3);
            g.Output(nodeWithEveryAttribute[1], "Extra", OnnxElementType.Float, OnnxDim.Unknown, 3);
        }
        return g;
    }

    [Fact]
    public void Round_trip_keeps_initializers_bit_identical_and_metadata_inputs_outputs_nodes_opset()
    {
        using var scope = NewDisposeScope();
        var written = SampleGraph().ToModel();
        var read = OnnxModelReader.Read(SampleGraph().ToBytes());

        Assert.Equal(8, read.IrVersion);
        Assert.Equal(17, read.OpsetVersion);
        Assert.Equal(written.ProducerName, read.ProducerName);
        Assert.Equal(written.ProducerVersion, read.ProducerVersion);
        Assert.Equal(written.GraphName, read.GraphName);
        Assert.Equal(written.Metadata.OrderBy(p => p.Key), read.Metadata.OrderBy(p => p.Key));
        Assert.Equal("{\"name\":\"moh_vit_tiny\",\"note\":\"ü → 漢\"}", read.Metadata["mixtureheads.config"]);

        Assert.Equal(written.Initializers.Select(i => i.Name), read.Initializers.Select(i => i.Name));
        foreach (var expected in written.Initializers)
        {
            var actual = read.FindInitializer(expected.Name)!;
            Assert.Equal(expected.ElementType, actual.ElementType);
            Assert.Equal(expected.Dims, actual.Dims);
            Assert.True(expected.RawData.Span.SequenceEqual(actual.RawData.Span), $"{expected.Name} is not bit-identical");
        }
        using var weight = read.InitializerTensor("blocks.0.proj.weight");
        Assert.True(float.IsNaN(weight[0, 0].item<float>()));
        Assert.True(float.IsNegative(weight[0, 1].item<float>()));
        Assert.Equal(float.Epsilon, weight[1, 0].item<float>());
        Assert.Empty(read.FindInitializer("temperature")!.Dims);

        Assert.Equal(
            ["Features: Float[batch, 4]", "TokenIds: Int64[batch, sequence]", "Mask: Bool[batch, sequence]"],
            read.Inputs.Select(i => i.ToString()));
        Assert.Equal(["Score: Float[batch, 3]", "Extra: Float[?, 3]"], read.Outputs.Select(o => o.ToString()));
        Assert.Equal(written.Nodes.Select(n => n.ToString()), read.Nodes.Select(n => n.ToString()));
        Assert.Equal(written.Nodes.Select(n => n.Name), read.Nodes.Select(n => n.Name));
        var custom = read.Nodes.Single(n => n.OpType == "Custom");
        Assert.Equal(long.MinValue, custom.Attribute("i")!.IntValue);
        Assert.Equal("ü", custom.Attribute("s")!.StringValue);
        Assert.Equal([7L, 8L], custom.Attribute("t")!.TensorValue!.ToInt64s());
        Assert.Equal([0.25f, float.NegativeInfinity], custom.Attribute("floats")!.FloatsValue);
        Assert.Equal([-1L, 0L, long.MaxValue], custom.Attribute("ints")!.IntsValue);
    }

    [Fact]
    public void Every_truncation_is_an_InvalidDataException_or_a_shorter_valid_model()
    {
        byte[] bytes = SampleGraph().ToBytes();
        int parsed = 0;
        for (int length = 0; length < bytes.Length; length++)
        {
            try
            {
                OnnxModelReader.Read(bytes[..length]);
                parsed++;     // a cut between two top-level fields leaves a valid message (protobuf cannot tell): after
                              // the graph come the opset imports and the metadata entries, in field-number order
            }
            catch (InvalidDataException e)
            {
                Assert.StartsWith("Invalid ONNX model: ", e.Message);
            }
        }
        var model = SampleGraph().ToModel();
        Assert.True(parsed <= model.OpsetImports.Count + model.Metadata.Count, $"{parsed} truncations parsed");
    }

    [Fact]
    public void A_cut_inside_the_graph_names_the_graph()
    {
        var model = SampleGraph().ToBytes();
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(model[..(model.Length / 2)]));
        Assert.Contains("ModelProto.graph is truncated", e.Message);
    }

    [Fact]
    public void Flipped_bytes_and_garbage_give_InvalidDataException_or_a_model_never_another_exception()
    {
        byte[] bytes = SampleGraph().ToBytes();
        var random = new Random(31);
        for (int i = 0; i < bytes.Length; i++)
        {
            foreach (byte flip in new byte[] { 0xFF, (byte)(1 << random.Next(8)) })
            {
                var corrupt = (byte[])bytes.Clone();
                corrupt[i] ^= flip;
                try
                {
                    OnnxModelReader.Read(corrupt);
                }
                catch (InvalidDataException)
                {
                }
            }
        }
        for (int trial = 0; trial < 200; trial++)
        {
            var garbage = new byte[random.Next(1, 300)];
            random.NextBytes(garbage);
            Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(garbage));
        }
    }

    [Fact]
    public void Tensors_in_typed_fields_and_packed_dims_as_other_exporters_write_them_are_read()
    {
        var model = HandWritten.Model(
            HandWritten.Tensor(HandWritten.Packed(1, 2, 2), HandWritten.Int(2, 1), HandWritten.Text(8, "w"), HandWritten.PackedFloats(4, 1f, -2f, 3.5f, 0f)),
            HandWritten.Tensor(HandWritten.Int(1, 3), HandWritten.Int(2, 7), HandWritten.Text(8, "ids"), HandWritten.Packed(7, -5, 0, 9)),
            HandWritten.Tensor(HandWritten.Int(1, 2), HandWritten.Int(2, 9), HandWritten.Text(8, "keep"), HandWritten.Packed(5, 1, 0)));
        var read = OnnxModelReader.Read(model);
        Assert.Equal([2L, 2L], read.FindInitializer("w")!.Dims);
        Assert.Equal([1f, -2f, 3.5f, 0f], read.FindInitializer("w")!.ToFloats());
        Assert.Equal([-5L, 0L, 9L], read.FindInitializer("ids")!.ToInt64s());
        using var keep = read.InitializerTensor("keep");
        Assert.Equal([true, false], keep.data<bool>().ToArray());
    }

    [Fact]
    public void Problems_are_named()
    {
        Assert.Contains("no ir_version", Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read([])).Message);
        Assert.Contains("no graph", Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(HandWritten.Message(HandWritten.Int(1, 8)))).Message);

        var shortData = HandWritten.Model(HandWritten.Tensor(HandWritten.Int(1, 2), HandWritten.Int(2, 1), HandWritten.Text(8, "w"), HandWritten.Raw(9, new byte[4])));
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(shortData));
        Assert.Contains("ModelProto.graph.initializer[0]", e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("needs 8 bytes, got 4", e.Message);

        var doubles = HandWritten.Model(HandWritten.Tensor(HandWritten.Int(1, 1), HandWritten.Int(2, 11), HandWritten.Text(8, "d"), HandWritten.Raw(9, new byte[8])));
        Assert.Contains("data_type 11", Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(doubles)).Message);

        var external = HandWritten.Model(HandWritten.Tensor(HandWritten.Int(2, 1), HandWritten.Text(8, "big"), HandWritten.Int(14, 1)));
        Assert.Contains("external file", Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(external)).Message);

        var untypedAttribute = HandWritten.Model(HandWritten.Node("Softmax", HandWritten.Message(HandWritten.Text(1, "axis"), HandWritten.Int(3, -1))));
        e = Assert.Throws<InvalidDataException>(() => OnnxModelReader.Read(untypedAttribute));
        Assert.Contains("ModelProto.graph.node[0].attribute[0] ('axis')", e.Message);
        Assert.Contains("AttributeProto.type must be set", e.Message);
    }

    /// <summary>Protobuf written field by field with Google.Protobuf, independently of our writer, to build
    /// models our writer never produces. Field numbers are onnx.proto's.</summary>
    private static class HandWritten
    {
        public static byte[] Message(params Action<CodedOutputStream>[] fields)
        {
            using var buffer = new MemoryStream();
            using (var output = new CodedOutputStream(buffer, leaveOpen: true))
                foreach (var field in fields) field(output);
            return buffer.ToArray();
        }

        public static Action<CodedOutputStream> Int(int field, long value) => o =>
        {
            o.WriteTag(field, WireFormat.WireType.Varint);
            o.WriteInt64(value);
        };

        public static Action<CodedOutputStream> Raw(int field, byte[] value) => o =>
        {
            o.WriteTag(field, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(value));
        };

        public static Action<CodedOutputStream> Text(int field, string value) => Raw(field, System.Text.Encoding.UTF8.GetBytes(value));

        public static Action<CodedOutputStream> Packed(int field, params long[] values) =>
            Raw(field, Message([.. values.Select(v => (Action<CodedOutputStream>)(o => o.WriteInt64(v)))]));

        public static Action<CodedOutputStream> PackedFloats(int field, params float[] values) =>
            Raw(field, [.. values.SelectMany(BitConverter.GetBytes)]);

        /// <summary>A model (ir_version 8) whose graph holds these initializers.</summary>
        public static byte[] Model(params byte[][] initializers) =>
            Message(Int(1, 8), Raw(7, Message([.. initializers.Select(t => Raw(5, t))])));

        public static byte[] Tensor(params Action<CodedOutputStream>[] fields) => Message(fields);

        /// <summary>A model whose graph holds one node with these attributes.</summary>
        public static byte[] Model(Action<CodedOutputStream> node) => Message(Int(1, 8), Raw(7, Message(node)));

        public static Action<CodedOutputStream> Node(string opType, params byte[][] attributes) =>
            Raw(1, Message([Text(4, opType), .. attributes.Select(a => Raw(5, a))]));
    }
}
