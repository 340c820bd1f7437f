using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The ViT paper's hybrid: a pretrained ResNet-18 trunk turns the image into a grid of features, each grid cell a
/// token, and Mixture-of-Head attention blocks classify them. Takes RGB pixels 0-255 [B, 3, S, S] and prepares
/// them as the trunk was trained (BGR, minus a mean image), so the exported graph does too. The trunk's frozen
/// stages never change in training, so a trainer computes their output once per image (<see cref="IFrozenPrefixNetwork"/>).
/// Parameters: <c>pixel_mean</c> (buffer), <c>trunk</c>, <c>proj</c>, <c>pos_embed</c>, <c>blocks</c>, <c>norm</c>, <c>head</c>.
/// </summary>
public sealed class MoHHybridVisionTransformer : MixtureHeadsNetwork<Tensor, HybridVisionTransformerConfig>, IFrozenPrefixNetwork
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "hybrid_vision_transformer";

    /// <summary>ImageNet's BGR channel means (0-255), the mean image's value until pretrained weights are loaded.</summary>
    private static readonly float[] ImageNetMeanBgr = [103.94f, 116.78f, 123.68f];

    /// <summary>Subtracted from the BGR pixels [1, 3, S, S].</summary>
    public readonly Tensor pixel_mean;

    /// <summary>The ResNet-18 stages.</summary>
    public readonly ResNetTrunk trunk;

    /// <summary>Trunk channels -> token width.</summary>
    public readonly ExportableLinear proj;

    /// <summary>Learned position embeddings [1, tokens, D].</summary>
    public readonly Parameter pos_embed;

    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>Final LayerNorm.</summary>
    public readonly ExportableLayerNorm norm;

    /// <summary>Classifier D -> classes.</summary>
    public readonly ExportableLinear head;

    private readonly int _frozenParts;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds the model with a freshly initialised trunk (load ImageNet weights with
    /// <see cref="Persistence.PretrainedResNet18.LoadInto(MoHHybridVisionTransformer, string?)"/>) and freezes the trunk's
    /// stages that <see cref="HybridVisionTransformerConfig.TrainableTrunkStages"/> leaves out.</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    public MoHHybridVisionTransformer(HybridVisionTransformerConfig config) : base(nameof(MoHHybridVisionTransformer), config)
    {
        pixel_mean = tensor(ImageNetMeanBgr).view(1, 3, 1, 1).expand(1, 3, config.ImageSize, config.ImageSize).contiguous();
        trunk = new ResNetTrunk(config.TrunkStages);
        proj = new ExportableLinear(trunk.OutChannels, config.Dim);
        pos_embed = new Parameter(zeros(1, config.TokensPerSide * config.TokensPerSide, config.Dim));
        blocks = BlockStack.Create(config, useRmsNorm: false);
        norm = new ExportableLayerNorm(config.Dim, eps: 1e-6);
        head = new ExportableLinear(config.Dim, config.Classes);
        RegisterComponents();

        _frozenParts = trunk.Parts - config.TrainableTrunkStages;
        for (int part = 0; part < _frozenParts; part++)
            foreach (var parameter in trunk.PartParameters(part)) parameter.requires_grad = false;
        using (no_grad())
        {
            ParameterInit.TruncatedNormal_(pos_embed, std: 0.02);
            ParameterInit.TruncatedNormal_(head.weight, std: 0.02);
            nn.init.zeros_(head.bias!);
        }
    }

    /// <inheritdoc />
    public long[] FrozenFeatureShape => trunk.PartOutputShape(_frozenParts - 1, Config.ImageSize);

    /// <inheritdoc />
    public override NetworkOutput forward(Tensor pixels) => ForwardFromFrozenFeatures(Frozen(pixels));

    /// <inheritdoc />
    public Tensor FrozenFeatures(Tensor input)
    {
        using var noGrad = no_grad();
        return Frozen(input);
    }

    private Tensor Frozen(Tensor pixels)
    {
        int side = Config.ImageSize;
        if (pixels.dim() != 4 || pixels.shape[1] != 3 || pixels.shape[2] != side || pixels.shape[3] != side)
            throw new ArgumentException($"Expected RGB pixels [B, 3, {side}, {side}], got [{string.Join(", ", pixels.shape)}].", nameof(pixels));
        var bgr = pixels.flip(1) - pixel_mean;                                   // [B, 3, S, S], the trunk's input
        return _frozenParts == trunk.Parts ? trunk.call(bgr) : trunk.ForwardParts(bgr, 0, _frozenParts);   // [B, C_f, h_f, w_f]
    }

    /// <inheritdoc />
    public NetworkOutput ForwardFromFrozenFeatures(Tensor features)
    {
        var x = _frozenParts < trunk.Parts ? trunk.ForwardParts(features, _frozenParts, trunk.Parts) : features;   // [B, C, h, w]
        if (x.dim() != 4 || x.shape[1] != trunk.OutChannels || x.shape[2] != Config.TokensPerSide || x.shape[3] != Config.TokensPerSide)
            throw new ArgumentException($"Expected trunk features [B, {trunk.OutChannels}, {Config.TokensPerSide}, {Config.TokensPerSide}], got [{string.Join(", ", x.shape)}].", nameof(features));
        var tokens = proj.call(x.flatten(2).transpose(1, 2)).Plus(pos_embed);    // [B, N, D]
        (tokens, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(tokens));
        var pooled = norm.call(tokens).mean([1]);                                // [B, D]
        return new NetworkOutput(head.call(pooled), balanceLoss, gates);         // [B, classes]
    }

    /// <summary>Declares the pixel input [batch, 3, S, S] and emits the forward; returns the logits [batch, classes].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        var config = Config;
        string pixels = graph.Input(SingleInput(inputNames, nameof(MoHHybridVisionTransformer)), OnnxElementType.Float, "batch", 3, config.ImageSize, config.ImageSize);
        string bgr = graph.Sub(graph.Gather(pixels, graph.Vector(2, 1, 0), axis: 1), graph.Initializer("pixel_mean", pixel_mean));
        string features = trunk.EmitOnnx(graph, bgr, "trunk");                                        // [B, C, h, w]
        string tokens = graph.Transpose(graph.Reshape(features, 0, trunk.OutChannels, -1), 0, 2, 1);  // [B, N, C]
        tokens = graph.Add(proj.EmitOnnx(graph, tokens, "proj"), graph.Initializer("pos_embed", pos_embed));
        tokens = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(tokens));
        string pooled = graph.ReduceMean(norm.EmitOnnx(graph, tokens, "norm"), [1], keepDims: false);   // [B, D]
        return head.EmitOnnx(graph, pooled, "head");                                                  // [B, classes]
    }
}
