using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The <see cref="MoHVisionTransformer"/> family and its registered sizes (<c>moh_vit_{size}_{active head %}</c>).</summary>
internal sealed class VisionTransformerFamily : ModelFamily<VisionTransformerConfig>
{
    private static readonly VisionTransformerConfig Tiny = new() { Dim = 128, Depth = 4, Heads = 8, MlpRatio = 2, StemBatchNorm = true };
    private static readonly VisionTransformerConfig Mini = Tiny with { Depth = 2 };
    private static readonly VisionTransformerConfig TinyPatches = Tiny with { Stem = ImageStem.Patch, StemBatchNorm = false };
    private static readonly VisionTransformerConfig Small = new() { Dim = 192, Depth = 6, Heads = 12, MlpRatio = 3, StemBatchNorm = true };

    public override string Kind => MoHVisionTransformer.KindName;

    protected override IMixtureHeadsNetwork Create(VisionTransformerConfig config) => new MoHVisionTransformer(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => new Dictionary<string, ModelConfig>
    {
        // The demo's model: half tiny's depth trains twice the epochs in the same minutes, which paid on Fashion-MNIST at a
        // 10-minute budget (docs/decisions.md).
        ["moh_vit_mini_100"] = Mini.Dense(),
        ["moh_vit_mini_75"] = Mini with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_vit_tiny_100"] = Tiny.Dense(),
        ["moh_vit_tiny_75"] = Tiny with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_vit_tiny_50"] = Tiny with { SharedHeads = 2, RoutedTopK = 2 },
        // h = 2 sub-tokens of 64, top-2 of 8 SwiGLU experts of 96: head + merge 2d^2 plus 2 x 3 x 64 x 96 multiply-adds
        // per token, about the dense MLP's 2 x d x 2d (the 2411 parity rule needs d divisible by 3).
        ["moh_vit_tiny_75_mhmoe"] = Tiny with { SharedHeads = 2, RoutedTopK = 4, FeedForward = FeedForwardKind.MultiHeadMoE, MoE = TransformerConfig.TinyMultiHeadMoE },
        ["moh_vit_tiny_patch4_100"] = TinyPatches.Dense(),
        ["moh_vit_tiny_patch4_75"] = TinyPatches with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_vit_small_100"] = Small.Dense(),
        ["moh_vit_small_75"] = Small with { SharedHeads = 3, RoutedTopK = 6 },
    };
}
