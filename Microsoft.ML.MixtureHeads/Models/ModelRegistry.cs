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
            MoE = MoEPresets.MultiHead(dim: Tiny.Dim, dMoe: (long)(Tiny.Dim * Tiny.MlpRatio), heads: 2, experts: 4),
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
