using Google.Protobuf;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Every registered model's export reads back and writes again to the very same bytes, and those bytes are
/// the canonical encoding of the ONNX types generated from onnx.proto.</summary>
public sealed class OnnxProtoRoundTripTests
{
    public static TheoryData<string> Names => [.. ModelRegistry.List()];

    [Theory]
    [MemberData(nameof(Names))]
    public void An_export_reads_back_and_writes_the_same_bytes(string name)
    {
        manual_seed(5);
        var config = ModelRegistry.Get<ModelConfig>(name);
        using var network = ModelRegistry.Create(config);
        int classes = config switch { VisionTransformerConfig v => v.Classes, TextEncoderConfig t => t.Classes, _ => 2 };
        byte[] bytes = network is MoHDiT dit
            ? MixtureHeads.Persistence.DiTOnnx.Export(dit)
            : ClassifierExport.Export((IMixtureHeadsNetwork<Tensor>)network, [.. Enumerable.Range(0, classes).Select(i => $"class {i}")], "input");

        Assert.Equal(bytes, OnnxProtoWriter.Write(OnnxModelReader.Read(bytes)));
        Assert.Equal(bytes, global::Onnx.ModelProto.Parser.ParseFrom(bytes).ToByteArray());
    }
}
