using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>Architectures small enough to train in seconds in a test, with real routing.</summary>
internal static class TinyVisionTransformers
{
    /// <summary>A convolutional stem with batch normalisation to a 7x7 grid of a 28x28 image (49 tokens), width 32,
    /// 4 heads: 1 shared + top-2 of 3 routed.</summary>
    public static VisionTransformerConfig MoH { get; } = new()
    {
        Dim = 32, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, PatchSize = 4, MlpRatio = 2, StemBatchNorm = true,
    };

    /// <summary>The same network with plain multi-head attention.</summary>
    public static VisionTransformerConfig Dense { get; } = MoH with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 };
}
