namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>Per block, per class, per routed head: the share of the class's tokens that used the head.</summary>
/// <param name="ClassNames">Class names, in class-index order (the rows of each block's matrix).</param>
/// <param name="SharedHeads">Always-on heads before the routed ones (routed head 0 is head <c>SharedHeads</c>).</param>
/// <param name="Usage">Per block, [class, routed head]; NaN for a class with no image.</param>
public sealed record ClassHeadUsage(IReadOnlyList<string> ClassNames, int SharedHeads, IReadOnlyList<double[,]> Usage);
