using ScottPlot;
using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>Renders plots side by side in a grid of equal panels and writes one PNG.</summary>
internal static class PanelImage
{
    public static void Save(IReadOnlyList<Plot> panels, int columns, string path, int width, int height)
    {
        int rows = (panels.Count + columns - 1) / columns;
        using var surface = SKSurface.Create(new SKImageInfo(width, height))
            ?? throw new InvalidOperationException($"SkiaSharp could not create a {width} x {height} image.");
        surface.Canvas.Clear(SKColors.White);
        int panelWidth = width / columns, panelHeight = height / rows;
        for (int i = 0; i < panels.Count; i++)
        {
            // Each panel is rendered alone: a plot rendering into a shared canvas clears all of it first.
            using var panel = SKImage.FromEncodedData(panels[i].GetImageBytes(panelWidth, panelHeight, ImageFormat.Png));
            surface.Canvas.DrawImage(panel, i % columns * panelWidth, i / columns * panelHeight);
        }
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null) Directory.CreateDirectory(folder);
        using var file = File.Create(path);
        png.SaveTo(file);
    }

    /// <summary>Checks the arguments every Save method shares.</summary>
    public static void CheckTarget(string path, int width, int height)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
    }
}
