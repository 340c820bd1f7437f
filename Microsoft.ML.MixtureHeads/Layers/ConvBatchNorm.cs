using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>A bias-free convolution followed by <see cref="FrozenBatchNorm2d"/> (ResNet's stem and shortcut projections).
/// Parameters: <c>conv</c>, <c>bn</c>.</summary>
public sealed class ConvBatchNorm : ExportableModule
{
    /// <summary>The convolution.</summary>
    public readonly ExportableConv2d conv;

    /// <summary>Its normalisation.</summary>
    public readonly FrozenBatchNorm2d bn;

    /// <summary>Creates the pair.</summary>
    public ConvBatchNorm(long inChannels, long outChannels, long kernelSize, long stride, long padding) : base(nameof(ConvBatchNorm))
    {
        conv = new ExportableConv2d(inChannels, outChannels, kernelSize, stride, padding, hasBias: false);
        bn = new FrozenBatchNorm2d(outChannels);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => bn.call(conv.call(x));

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix) =>
        bn.EmitOnnx(graph, conv.EmitOnnx(graph, input, OnnxGraphBuilder.ParameterName(prefix, "conv")), OnnxGraphBuilder.ParameterName(prefix, "bn"));
}
