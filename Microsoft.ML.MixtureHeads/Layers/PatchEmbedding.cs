using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Image to patch tokens, as timm's <c>PatchEmbed</c>: a Conv2d named <c>proj</c> with kernel = stride = patch size,
/// then the patch grid flattened in row-major order. [B, C_in, H, W] -> [B, (H/p)(W/p), dim].
/// </summary>
public sealed class PatchEmbedding : ExportableModule
{
    /// <summary>The patch projection, weight [dim, C_in, p, p].</summary>
    public readonly ExportableConv2d proj;

    /// <summary>Input channels C_in.</summary>
    public int InChannels { get; }

    /// <summary>Side p of a square patch.</summary>
    public int PatchSize { get; }

    /// <summary>Creates a patch embedding from <paramref name="inChannels"/> channels to <paramref name="dim"/> per patch.</summary>
    public PatchEmbedding(int inChannels, int dim, int patchSize) : base(nameof(PatchEmbedding))
    {
        if (inChannels < 1) throw new ArgumentException($"inChannels must be at least 1, got {inChannels}.", nameof(inChannels));
        if (dim < 1) throw new ArgumentException($"dim must be at least 1, got {dim}.", nameof(dim));
        if (patchSize < 1) throw new ArgumentException($"patchSize must be at least 1, got {patchSize}.", nameof(patchSize));
        InChannels = inChannels;
        PatchSize = patchSize;
        proj = new ExportableConv2d(inChannels, dim, patchSize, stride: patchSize);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != InChannels || images.shape[2] % PatchSize != 0 || images.shape[3] % PatchSize != 0)
            throw new ArgumentException(
                $"PatchEmbedding expects [B, {InChannels}, H, W] with H and W multiples of {PatchSize}; got [{string.Join(", ", images.shape)}].",
                nameof(images));
        return proj.call(images).flatten(2).transpose(1, 2); // [B, dim, H/p, W/p] -> [B, N, dim]
    }

    /// <summary>Emits the patch embedding: Conv, then [B, dim, H/p, W/p] -> [B, N, dim].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, string images, string prefix)
    {
        string patches = proj.EmitOnnx(graph, images, OnnxGraphBuilder.ParameterName(prefix, "proj"));   // [B, dim, H/p, W/p]
        return graph.Transpose(graph.Reshape(patches, 0, proj.weight.shape[0], -1), 0, 2, 1);        // [B, N, dim]
    }
}
