using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Overlapping convolutional patch embedding: one 3x3 stride-1 convolution, then n 3x3 stride-2 convolutions, GELU
/// between them, as in TransNeXt (the MoH-ViT backbone) and hybrid ViTs ("early convolutions help transformers see
/// better"). With patch size p = 2^n it gives the same token grid as <see cref="PatchEmbedding"/>
/// ([B, C, H, W] -> [B, (H/p)(W/p), dim]) but trains far faster on small data. Widths double up to <c>dim</c>: for
/// p = 4, C -> dim/4 -> dim/2 -> dim (why, measured: docs/decisions.md). With batch normalisation, each convolution
/// but the last is followed by <see cref="ExportableBatchNorm2d"/> before its GELU, as in that paper's stem.
/// Parameters: <c>convs.{i}.weight</c>, <c>convs.{i}.bias</c>, and with batch normalisation <c>norms.{i}.*</c>.
/// </summary>
public sealed class ConvStem : ExportableModule
{
    /// <summary>The convolutions, first (stride 1) to last.</summary>
    public readonly ModuleList<ExportableConv2d> convs;

    /// <summary>The batch normalisations after every convolution but the last, or null without.</summary>
    public readonly ModuleList<ExportableBatchNorm2d>? norms;

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Total stride (a power of two).</summary>
    public int PatchSize { get; }

    /// <summary>Builds the stem, with batch normalisation between the convolutions when <paramref name="batchNorm"/> is set.</summary>
    /// <exception cref="ArgumentException">patchSize is not a power of two of at least 2, or dim is not divisible by patchSize.</exception>
    public ConvStem(int inChannels, int dim, int patchSize, bool batchNorm = false) : base(nameof(ConvStem))
    {
        if (inChannels < 1) throw new ArgumentException($"inChannels must be at least 1, got {inChannels}.", nameof(inChannels));
        if (patchSize < 2 || (patchSize & (patchSize - 1)) != 0)
            throw new ArgumentException($"patchSize must be a power of two of at least 2 for a convolutional stem, got {patchSize}.", nameof(patchSize));
        int halvings = (int)Math.Log2(patchSize);
        if (dim % (1 << halvings) != 0)
            throw new ArgumentException($"dim ({dim}) must be divisible by {1 << halvings} for a stem of total stride {patchSize}.", nameof(dim));
        InChannels = inChannels;
        PatchSize = patchSize;
        var stages = new List<ExportableConv2d> { new(inChannels, dim >> halvings, kernelSize: 3, stride: 1, padding: 1) };
        for (int i = halvings - 1; i >= 0; i--)
            stages.Add(new ExportableConv2d(dim >> (i + 1), dim >> i, kernelSize: 3, stride: 2, padding: 1));   // ..., dim/2, dim
        convs = new ModuleList<ExportableConv2d>(stages.ToArray());
        if (batchNorm) norms = new ModuleList<ExportableBatchNorm2d>(stages.SkipLast(1).Select(c => new ExportableBatchNorm2d(c.OutChannels)).ToArray());
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != InChannels || images.shape[2] % PatchSize != 0 || images.shape[3] % PatchSize != 0)
            throw new ArgumentException(
                $"ConvStem expects [B, {InChannels}, H, W] with H and W multiples of {PatchSize}; got [{string.Join(", ", images.shape)}].", nameof(images));
        // Under a bf16 scope the activations stay bf16 through the stem, batch normalisation (fp32 statistics and
        // parameters) and GELU included, as autocast runs them: a fifth off the stem's step (docs/decisions.md).
        var x = MixedPrecision.Lower(images);
        for (int i = 0; i < convs.Count; i++)
        {
            x = convs[i].call(x);                                // [B, C_i, H / 2^i, W / 2^i]
            if (i == convs.Count - 1) break;
            if (norms is not null) x = norms[i].call(x);
            x = F.gelu(x);
        }
        return x.flatten(2).transpose(1, 2).to(images.dtype);     // [B, N, dim]
    }

    /// <summary>Emits the stem; <paramref name="prefix"/> is its state-dict path.</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, string images, string prefix)
    {
        string x = images;
        for (int i = 0; i < convs.Count; i++)
        {
            x = convs[i].EmitOnnx(graph, x, OnnxGraphBuilder.ParameterName(prefix, $"convs.{i}"));
            if (i == convs.Count - 1) break;
            if (norms is not null) x = norms[i].EmitOnnx(graph, x, OnnxGraphBuilder.ParameterName(prefix, $"norms.{i}"));
            x = graph.Gelu(x);
        }
        return graph.Transpose(graph.Reshape(x, 0, convs[^1].weight.shape[0], -1), 0, 2, 1);
    }
}
