namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>The routed heads each patch of one image used, per block.</summary>
/// <param name="Pixels">The image, 0-255, planar [C, H, W].</param>
/// <param name="Channels">1 (grayscale) or 3 (RGB).</param>
/// <param name="ImageSize">Height and width in pixels.</param>
/// <param name="RoutedHeads">How many heads the router chooses from.</param>
/// <param name="Heads">Per block, [patch row, patch column]: the routed heads (0-based among the routed ones) that patch used.</param>
public sealed record PatchHeadUsage(float[] Pixels, int Channels, int ImageSize, int RoutedHeads, IReadOnlyList<int[,][]> Heads);
