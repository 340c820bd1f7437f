using System.Globalization;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>Which attention heads a MoH model uses: per block and head during training, or per class and routed head.</summary>
public static class HeadUsagePlot
{
    /// <summary>Writes the head usage of a training report (<c>TrainingMetrics.HeadUsage</c>) to a PNG: blocks down, heads across.</summary>
    /// <param name="usage">Per block, per head: the share of tokens that used the head.</param>
    /// <param name="path">The PNG to write; its folder is created.</param>
    /// <param name="width">Image width in pixels (at least 100).</param>
    /// <param name="height">Image height in pixels (at least 100).</param>
    /// <exception cref="ArgumentException">No block, blocks of different head counts, or an empty path.</exception>
    public static void SaveTraining(IReadOnlyList<IReadOnlyList<double>> usage, string path, int width = 900, int height = 450)
    {
        ArgumentNullException.ThrowIfNull(usage);
        PanelImage.CheckTarget(path, width, height);
        if (usage.Count == 0 || usage[0].Count == 0) throw new ArgumentException("There is no head usage to plot (no attention block).", nameof(usage));
        int heads = usage[0].Count;
        if (usage.Any(block => block.Count != heads)) throw new ArgumentException("Every block must report the same number of heads.", nameof(usage));
        var values = new double[usage.Count, heads];
        for (int block = 0; block < usage.Count; block++)
            for (int head = 0; head < heads; head++)
                values[block, head] = usage[block][head];
        var plot = HeatmapPanel.Create(values, Labels("block", usage.Count), Labels("h", heads),
            "Share of tokens using each head", "head", "block", Percent);
        PanelImage.Save([plot], columns: 1, path, width, height);
    }

    /// <summary>Writes one panel per block to a PNG: classes down, routed heads across, the share of each class's tokens that used the head.</summary>
    /// <param name="usage">What <see cref="HeadUsageProbe.PerClass"/> measured.</param>
    /// <param name="path">The PNG to write; its folder is created.</param>
    /// <param name="width">Image width in pixels (at least 100).</param>
    /// <param name="height">Image height in pixels (at least 100).</param>
    /// <exception cref="ArgumentException">No block, or an empty path.</exception>
    public static void SavePerClass(ClassHeadUsage usage, string path, int width = 1600, int height = 1000)
    {
        ArgumentNullException.ThrowIfNull(usage);
        PanelImage.CheckTarget(path, width, height);
        if (usage.Usage.Count == 0) throw new ArgumentException("There is no block to plot.", nameof(usage));
        int routed = usage.Usage[0].GetLength(1);
        var headLabels = Enumerable.Range(usage.SharedHeads, routed).Select(h => $"h{h}").ToArray();
        var panels = usage.Usage.Select((values, block) => HeatmapPanel.Create(values, usage.ClassNames, headLabels,
            $"Block {block}: routed heads per class", "routed head", "", Percent)).ToList();
        PanelImage.Save(panels, columns: Math.Min(panels.Count, 2), path, width, height);
    }

    private static string[] Labels(string prefix, int count) => Enumerable.Range(0, count).Select(i => $"{prefix}{i}").ToArray();

    private static string Percent(double share) => double.IsNaN(share) ? "-" : share.ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "", StringComparison.Ordinal);
}
