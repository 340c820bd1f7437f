using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>A text architecture small enough to train in seconds in a test, with real routing.</summary>
internal static class TinyTextEncoders
{
    /// <summary>64 tokens, width 32, one block of 4 heads: 1 shared + top-2 of 3 routed.</summary>
    public static TextEncoderConfig MoH { get; } = new()
    {
        MaxLength = 64, Dim = 32, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2,
    };
}
