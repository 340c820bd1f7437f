using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// TorchSharp's <c>nn.Conv2d</c> with square kernels, zero padding and no groups made exportable: the same parameters
/// (<c>weight</c> [out, in, k, k], optional <c>bias</c>) and initialisation (taken from a fresh <c>nn.Conv2d</c>), the
/// same forward, and ONNX Conv.
/// </summary>
public sealed class ExportableConv2d : ExportableModule
{
    /// <summary>The kernel [out, in, k, k].</summary>
    public readonly Parameter weight;

    /// <summary>The bias [out], or null.</summary>
    public readonly Parameter? bias;

    /// <summary>Kernel side.</summary>
    public long KernelSize { get; }

    /// <summary>Stride in both dimensions.</summary>
    public long Stride { get; }

    /// <summary>Zero padding on every side.</summary>
    public long Padding { get; }

    /// <summary>Creates the convolution, initialised as <c>nn.Conv2d</c>.</summary>
    public ExportableConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool hasBias = true)
        : base(nameof(ExportableConv2d))
    {
        if (kernelSize < 1 || stride < 1 || padding < 0)
            throw new ArgumentException($"Conv2d needs kernelSize >= 1, stride >= 1 and padding >= 0; got {kernelSize}, {stride}, {padding}.", nameof(kernelSize));
        (KernelSize, Stride, Padding) = (kernelSize, stride, padding);
        using var source = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: hasBias);
        using (no_grad())
        {
            weight = new Parameter(source.weight.detach().clone());
            if (source.bias is { } b) bias = new Parameter(b.detach().clone());
        }
        RegisterComponents();
    }

    /// <summary>Output channels.</summary>
    public long OutChannels => weight.shape[0];

    /// <summary>Input channels.</summary>
    public long InChannels => weight.shape[1];

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != InChannels)
            throw new ArgumentException($"Conv2d expects [B, {InChannels}, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        // libtorch 2.10's oneDNN (AVX-512) gets narrow convolutions wrong (docs/decisions.md): they go through im2col,
        // which is exact; channel counts in multiples of 16, and an image input that needs no gradient, take the fast kernel.
        bool native = OutChannels % ChannelBlock == 0 && (InChannels % ChannelBlock == 0 || InChannels <= 3 && !x.requires_grad);
        return native
            ? MixedPrecision.Conv2d(x, weight, bias, Stride, Padding)   // [B, out, H', W']
            : Im2Col(x);
    }

    /// <summary>Channel counts that are multiples of this run on libtorch's convolution kernel; others as im2col + matmul.</summary>
    internal const long ChannelBlock = 16;

    /// <summary>The convolution as unfold (im2col) and one matmul.</summary>
    private Tensor Im2Col(Tensor x)
    {
        long height = (x.shape[2] + 2 * Padding - KernelSize) / Stride + 1, width = (x.shape[3] + 2 * Padding - KernelSize) / Stride + 1;
        var columns = nn.functional.unfold(x, KernelSize, padding: Padding, stride: Stride);        // [B, in*k*k, H'*W']
        var y = weight.view(OutChannels, -1).to(x.dtype).matmul(columns);                              // [B, out, H'*W']
        if (bias is not null) y = y.Plus(bias.view(OutChannels, 1).to(x.dtype));
        return y.view(x.shape[0], OutChannels, height, width);                                        // [B, out, H', W']
    }

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var w = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight);
        var b = bias is null ? null : graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "bias"), bias);
        return graph.Conv(input, w, b, [KernelSize, KernelSize], [Stride, Stride], [Padding, Padding, Padding, Padding], [1, 1]);
    }
}
