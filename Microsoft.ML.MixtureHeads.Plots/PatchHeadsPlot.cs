using ScottPlot;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>One image with its patch grid drawn over it, each patch labelled with the routed heads it used, one panel per block.</summary>
public static class PatchHeadsPlot
{
    /// <summary>Writes the picture of what <see cref="HeadUsageProbe.PerPatch"/> measured to a PNG.</summary>
    /// <param name="usage">The image and, per block, the routed heads of each patch.</param>
    /// <param name="path">The PNG to write; its folder is created.</param>
    /// <param name="width">Image width in pixels (at least 100).</param>
    /// <param name="height">Image height in pixels (at least 100).</param>
    /// <exception cref="ArgumentException">No block, a pixel vector that does not match the size, or an empty path.</exception>
    public static void Save(PatchHeadUsage usage, string path, int width = 1600, int height = 900)
    {
        ArgumentNullException.ThrowIfNull(usage);
        PanelImage.CheckTarget(path, width, height);
        if (usage.Heads.Count == 0) throw new ArgumentException("There is no block to plot.", nameof(usage));
        if (usage.Pixels.Length != usage.Channels * usage.ImageSize * usage.ImageSize)
            throw new ArgumentException($"Expected {usage.Channels * usage.ImageSize * usage.ImageSize} pixels, got {usage.Pixels.Length}.", nameof(usage));
        var image = Grayscale(usage);
        var panels = usage.Heads.Select((heads, block) => Panel(image, heads, usage.RoutedHeads, block)).ToList();
        PanelImage.Save(panels, columns: Math.Min(panels.Count, 2), path, width, height);
    }

    private static Plot Panel(byte[,] image, int[,][] heads, int routedHeads, int block)
    {
        int side = heads.GetLength(0);
        var plot = new Plot();
        plot.Add.ImageRect(new Image(image), new CoordinateRect(0, side, 0, side));
        // Patches that used the same heads share a label colour.
        var combinations = heads.Cast<int[]>().Select(Label).Distinct().Order(StringComparer.Ordinal).ToList();
        var palette = new ScottPlot.Palettes.Category10();
        for (int row = 0; row < side; row++)
            for (int column = 0; column < side; column++)
            {
                double bottom = side - 1 - row;
                var cell = plot.Add.Rectangle(column, column + 1, bottom, bottom + 1);
                cell.FillColor = Colors.Transparent;
                cell.LineColor = Colors.Orange.WithAlpha(0.7);
                cell.LineWidth = 1;
                string label = Label(heads[row, column]);
                var text = plot.Add.Text(label, column + 0.5, bottom + 0.5);
                text.Alignment = Alignment.MiddleCenter;
                text.LabelStyle.FontSize = 11;
                text.LabelStyle.Bold = true;
                text.LabelStyle.BackgroundColor = Colors.Black.WithAlpha(0.55);
                text.LabelStyle.ForeColor = palette.GetColor(combinations.IndexOf(label) + 1);
            }
        plot.Axes.SetLimits(0, side, 0, side);
        plot.Axes.Bottom.SetTicks([], []);
        plot.Axes.Left.SetTicks([], []);
        plot.Title($"Block {block}: routed heads (of 0-{routedHeads - 1}) per patch");
        return plot;
    }

    private static string Label(int[] heads) => string.Join(",", heads);

    /// <summary>The image as gray levels [row, column] (the mean of the channels).</summary>
    private static byte[,] Grayscale(PatchHeadUsage usage)
    {
        int size = usage.ImageSize, plane = size * size;
        var gray = new byte[size, size];
        for (int row = 0; row < size; row++)
            for (int column = 0; column < size; column++)
            {
                double sum = 0;
                for (int channel = 0; channel < usage.Channels; channel++) sum += usage.Pixels[channel * plane + row * size + column];
                gray[row, column] = (byte)Math.Clamp(Math.Round(sum / usage.Channels), 0, 255);
            }
        return gray;
    }
}
