using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Vision transformer whose attention is Mixture-of-Head attention: patch embedding, optional class token, learned
/// position embeddings, pre-norm blocks (MoH attention + dense or MH-MoE feed-forward), final norm, pooling, linear
/// head. Takes raw pixels 0-255 [B, C, H, W] and normalises them itself, so the exported graph does too.
/// Parameter names follow timm: <c>patch_embed</c>, <c>cls_token</c>, <c>pos_embed</c>, <c>blocks</c>, <c>norm</c>, <c>head</c>.
/// </summary>
public sealed class MoHVisionTransformer : MixtureHeadsNetwork<Tensor, VisionTransformerConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "vision_transformer";
    /// <summary>Image to tokens [B, C, H, W] -> [B, N, D]: a <see cref="ConvStem"/> or a <see cref="PatchEmbedding"/>.</summary>
    public readonly ExportableModule patch_embed;

    /// <summary>The class token [1, 1, D] (only with <see cref="ImagePooling.ClassToken"/>).</summary>
    public readonly Parameter? cls_token;

    /// <summary>Learned position embeddings [1, tokens, D].</summary>
    public readonly Parameter pos_embed;

    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>Final LayerNorm.</summary>
    public readonly ExportableLayerNorm norm;

    /// <summary>Classifier D -> classes.</summary>
    public readonly ExportableLinear head;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds a freshly initialised model (trunc normal std 0.02 for embeddings and head, zero head bias).</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    public MoHVisionTransformer(VisionTransformerConfig config) : base(nameof(MoHVisionTransformer), config)
    {
        int tokens = config.PatchesPerSide * config.PatchesPerSide + (config.Pooling == ImagePooling.ClassToken ? 1 : 0);

        patch_embed = config.Stem == ImageStem.Convolution
            ? new ConvStem(config.Channels, config.Dim, config.PatchSize, config.StemBatchNorm)
            : new PatchEmbedding(config.Channels, config.Dim, config.PatchSize);
        if (config.Pooling == ImagePooling.ClassToken) cls_token = new Parameter(zeros(1, 1, config.Dim));
        pos_embed = new Parameter(zeros(1, tokens, config.Dim));
        blocks = BlockStack.Create(config, useRmsNorm: false);
        norm = new ExportableLayerNorm(config.Dim, eps: 1e-6);
        head = new ExportableLinear(config.Dim, config.Classes);
        RegisterComponents();

        using (no_grad())
        {
            ParameterInit.TruncatedNormal_(pos_embed, std: 0.02);
            if (cls_token is not null) ParameterInit.TruncatedNormal_(cls_token, std: 0.02);
            ParameterInit.TruncatedNormal_(head.weight, std: 0.02); // TorchSharp 0.107's trunc_normal_ fills a constant
            nn.init.zeros_(head.bias!);
        }
    }

    /// <inheritdoc />
    public override NetworkOutput forward(Tensor pixels)
    {
        var config = Config;
        if (pixels.dim() != 4 || pixels.shape[1] != config.Channels || pixels.shape[2] != config.ImageSize || pixels.shape[3] != config.ImageSize)
            throw new ArgumentException($"Expected pixels [B, {config.Channels}, {config.ImageSize}, {config.ImageSize}], got [{string.Join(", ", pixels.shape)}].", nameof(pixels));

        var x = (pixels / Scalars.Of(255.0)).Plus(-config.PixelMean) / Scalars.Of(config.PixelStd);   // [B, C, H, W], normalised
        var tokens = patch_embed.call(x);                                      // [B, N, D]
        if (cls_token is not null)
            tokens = cat([cls_token.expand(tokens.shape[0], 1, config.Dim), tokens], dim: 1);   // [B, 1 + N, D]
        tokens = tokens.Plus(pos_embed);

        (tokens, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(tokens));
        tokens = norm.call(tokens);                                            // [B, T, D]
        var pooled = cls_token is not null ? tokens[.., 0] : tokens.mean([1]);    // [B, D]
        var logits = head.call(pooled);                                        // [B, classes]
        return new NetworkOutput(logits, balanceLoss, gates);
    }

    /// <summary>Declares the pixel input [batch, C, H, W] and emits the forward; returns the logits [batch, classes].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        var config = Config;
        string pixels = graph.Input(SingleInput(inputNames, nameof(MoHVisionTransformer)), OnnxElementType.Float, "batch", config.Channels, config.ImageSize, config.ImageSize);
        string x = graph.Div(graph.Sub(graph.Div(pixels, graph.Scalar(255f)), graph.Scalar(config.PixelMean)), graph.Scalar(config.PixelStd));
        string tokens = patch_embed.EmitOnnx(graph, x, "patch_embed");                         // [B, N, D]
        if (cls_token is not null)
        {
            string batchShape = graph.Concat(0, graph.Shape(tokens, 0, 1), graph.Vector(1, config.Dim));
            string cls = graph.Expand(graph.Initializer("cls_token", cls_token), batchShape);  // [B, 1, D]
            tokens = graph.Concat(1, cls, tokens);
        }
        tokens = graph.Add(tokens, graph.Initializer("pos_embed", pos_embed));
        tokens = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(tokens));
        tokens = norm.EmitOnnx(graph, tokens, "norm");
        string pooled = cls_token is not null
            ? graph.Gather(tokens, graph.Scalar(0L), axis: 1)
            : graph.ReduceMean(tokens, [1], keepDims: false);                                  // [B, D]
        return head.EmitOnnx(graph, pooled, "head");                                           // [B, classes]
    }
}
