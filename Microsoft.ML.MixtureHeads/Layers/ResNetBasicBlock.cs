using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// ResNet's basic block (He et al. 2016): two 3x3 convolutions with batch normalisation, a residual connection
/// (a strided 1x1 convolution + normalisation when the shape changes), ReLU after each half.
/// [B, C_in, H, W] -> [B, C_out, H / stride, W / stride]. Parameters: <c>conv1</c>, <c>bn1</c>, <c>conv2</c>,
/// <c>bn2</c>, <c>downsample.conv</c>, <c>downsample.bn</c>.
/// </summary>
public sealed class ResNetBasicBlock : ExportableModule
{
    /// <summary>First 3x3 convolution (carries the stride).</summary>
    public readonly ExportableConv2d conv1;

    /// <summary>Its normalisation.</summary>
    public readonly FrozenBatchNorm2d bn1;

    /// <summary>Second 3x3 convolution.</summary>
    public readonly ExportableConv2d conv2;

    /// <summary>Its normalisation.</summary>
    public readonly FrozenBatchNorm2d bn2;

    /// <summary>The shortcut's projection when the shape changes, else null (identity).</summary>
    public readonly ConvBatchNorm? downsample;

    /// <summary>Creates a block (identity normalisation, convolutions initialised as nn.Conv2d).</summary>
    public ResNetBasicBlock(long inChannels, long outChannels, long stride) : base(nameof(ResNetBasicBlock))
    {
        conv1 = new ExportableConv2d(inChannels, outChannels, 3, stride, padding: 1, hasBias: false);
        bn1 = new FrozenBatchNorm2d(outChannels);
        conv2 = new ExportableConv2d(outChannels, outChannels, 3, 1, padding: 1, hasBias: false);
        bn2 = new FrozenBatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels) downsample = new ConvBatchNorm(inChannels, outChannels, 1, stride, padding: 0);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var h = F.relu(bn1.call(conv1.call(x)));                       // [B, C_out, H', W']
        h = bn2.call(conv2.call(h));
        var shortcut = downsample is null ? x : downsample.call(x);      // [B, C_out, H', W']
        return F.relu(h.Plus(shortcut));
    }

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        string h = graph.Relu(bn1.EmitOnnx(graph, conv1.EmitOnnx(graph, input, OnnxGraphBuilder.ParameterName(prefix, "conv1")), OnnxGraphBuilder.ParameterName(prefix, "bn1")));
        h = bn2.EmitOnnx(graph, conv2.EmitOnnx(graph, h, OnnxGraphBuilder.ParameterName(prefix, "conv2")), OnnxGraphBuilder.ParameterName(prefix, "bn2"));
        string shortcut = downsample is null ? input : downsample.EmitOnnx(graph, input, OnnxGraphBuilder.ParameterName(prefix, "downsample"));
        return graph.Relu(graph.Add(h, shortcut));
    }
}
