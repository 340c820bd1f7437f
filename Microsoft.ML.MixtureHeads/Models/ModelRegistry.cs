using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Named architectures in timm's spirit: <c>moh_vit_{size}_{active head percent}</c>. Sized for CPUs: "tiny" trains
/// Fashion-MNIST to 90% in minutes on two cores. Every name works as a trainer's <c>Architecture</c>.
/// </summary>
public static class ModelRegistry
{
    private static readonly VisionTransformerConfig Tiny = new() { Dim = 128, Depth = 4, Heads = 8, MlpRatio = 2 };
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
        ["moh_vit_small_100"] = Small with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 },
        ["moh_vit_small_75"] = Small with { SharedHeads = 3, RoutedTopK = 6 },
    };

    /// <summary>The registered vision transformer <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No architecture has that name (the message lists them).</exception>
    public static VisionTransformerConfig VisionTransformer(string name) =>
        name is not null && VisionTransformers.TryGetValue(name, out var config)
            ? config
            : throw new ArgumentOutOfRangeException(nameof(name), $"No vision transformer named '{name}'. Registered: {string.Join(", ", VisionTransformers.Keys)}.");
}
