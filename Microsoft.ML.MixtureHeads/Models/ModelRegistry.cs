using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Named architectures in timm's spirit: <c>moh_vit_{size}_{active head percent}</c>. Sized for CPUs: "tiny" trains
/// Fashion-MNIST to 90% in minutes on two cores. Every name works as a trainer's <c>Architecture</c>.
/// </summary>
public static class ModelRegistry
{
    private static readonly VisionTransformerConfig Tiny = new() { Dim = 128, Depth = 4, Heads = 8, MlpRatio = 2 };
    private static readonly VisionTransformerConfig TinyPatches = Tiny with { Stem = ImageStem.Patch };
    private static readonly VisionTransformerConfig Small = new() { Dim = 192, Depth = 6, Heads = 12, MlpRatio = 3 };

    /// <summary>The registered vision transformers by name.</summary>
    public static IReadOnlyDictionary<string, VisionTransformerConfig> VisionTransformers { get; } = new Dictionary<string, VisionTransformerConfig>
    {
        ["moh_vit_tiny_100"] = Tiny with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 },
        ["moh_vit_tiny_75"] = Tiny with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_vit_tiny_50"] = Tiny with { SharedHeads = 2, RoutedTopK = 2 },
        ["moh_vit_tiny_75_mhmoe"] = Tiny with
        {
            SharedHeads = 2,
            RoutedTopK = 4,
            FeedForward = FeedForwardKind.MultiHeadMoE,
            // h = 2 sub-tokens of 64, top-2 of 8 SwiGLU experts of 96: head + merge 2d^2 plus 2 x 3 x 64 x 96 multiply-adds
            // per token, about the dense MLP's 2 x d x 2d (the 2411 parity rule needs d divisible by 3).
            MoE = new MultiHeadMoEOptions { Dim = Tiny.Dim, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96 },
        },
        ["moh_vit_tiny_patch4_100"] = TinyPatches with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 },
        ["moh_vit_tiny_patch4_75"] = TinyPatches with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_vit_small_100"] = Small with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 },
        ["moh_vit_small_75"] = Small with { SharedHeads = 3, RoutedTopK = 6 },
    };

    private static readonly TextEncoderConfig TextTiny = new() { Dim = 128, Depth = 2, Heads = 8, MlpRatio = 2, MaxLength = 256 };

    /// <summary>The registered text encoders by name.</summary>
    public static IReadOnlyDictionary<string, TextEncoderConfig> TextEncoders { get; } = new Dictionary<string, TextEncoderConfig>
    {
        ["moh_text_tiny_100"] = TextTiny with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 },
        ["moh_text_tiny_75"] = TextTiny with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_text_tiny_50"] = TextTiny with { SharedHeads = 2, RoutedTopK = 2 },
        ["moh_text_tiny_75_mhmoe"] = TextTiny with
        {
            SharedHeads = 2,
            RoutedTopK = 4,
            FeedForward = FeedForwardKind.MultiHeadMoE,
            MoE = new MultiHeadMoEOptions { Dim = TextTiny.Dim, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96 },
        },
        ["moh_text_tiny_75_bitnet"] = TextTiny with
        {
            SharedHeads = 2,
            RoutedTopK = 4,
            Linear = LinearKind.BitLinear,
            FeedForward = FeedForwardKind.MultiHeadMoE,
            MoE = new MultiHeadMoEOptions { Dim = TextTiny.Dim, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96, ExpertLinear = LinearKind.BitLinear },
        },
    };

    /// <summary>The registered text encoder <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No architecture has that name (the message lists them).</exception>
    public static TextEncoderConfig TextEncoder(string name) =>
        name is not null && TextEncoders.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentOutOfRangeException(nameof(name), $"No text encoder named '{name}'. Registered: {string.Join(", ", TextEncoders.Keys)}.");

    /// <summary>The registered vision transformer <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No architecture has that name (the message lists them).</exception>
    public static VisionTransformerConfig VisionTransformer(string name) =>
        name is not null && VisionTransformers.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentOutOfRangeException(nameof(name), $"No vision transformer named '{name}'. Registered: {string.Join(", ", VisionTransformers.Keys)}.");
}
