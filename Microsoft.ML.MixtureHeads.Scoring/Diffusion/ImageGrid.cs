using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>Lays generated images out as one PNG: one row per class, in the order the classes first appear.</summary>
public static class ImageGrid
{
    /// <summary>PNG bytes of a grid with one row per class (images of a class left to right), <paramref name="gap"/> black pixels between cells.</summary>
    /// <exception cref="ArgumentException">No images, or images of different sizes.</exception>
    public static byte[] ToPng(IReadOnlyList<GeneratedImage> images, int gap = 2)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("The grid needs at least one image.", nameof(images));
        var first = images[0];
        if (images.Any(i => i.Width != first.Width || i.Height != first.Height || i.Channels != first.Channels))
            throw new ArgumentException("Every image of a grid must have the same size and channels.", nameof(images));
        var rows = images.GroupBy(i => i.Label).Select(g => g.ToList()).ToList();
        int columns = rows.Max(r => r.Count), channels = first.Channels;
        int width = columns * first.Width + (columns - 1) * gap, height = rows.Count * first.Height + (rows.Count - 1) * gap;
        var canvas = new byte[width * height * channels];
        for (int r = 0; r < rows.Count; r++)
            for (int col = 0; col < rows[r].Count; col++)
            {
                var bytes = rows[r][col].ToBytes();
                int top = r * (first.Height + gap), left = col * (first.Width + gap);
                for (int y = 0; y < first.Height; y++)
                    bytes.AsSpan(y * first.Width * channels, first.Width * channels)
                        .CopyTo(canvas.AsSpan(((top + y) * width + left) * channels));
            }
        return EncodePng(canvas, width, height, channels);
    }

    /// <summary>Writes <see cref="ToPng"/>'s bytes to <paramref name="path"/>.</summary>
    public static void WritePng(string path, IReadOnlyList<GeneratedImage> images, int gap = 2)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllBytes(path, ToPng(images, gap));
    }

    /// <summary>PNG bytes of 8-bit pixels [H, W, C] with C = 1 (gray) or 3 (RGB).</summary>
    internal static byte[] EncodePng(byte[] pixels, int width, int height, int channels)
    {
        if (channels is not (1 or 3)) throw new NotSupportedException($"PNG encoding takes 1 or 3 channels, got {channels}.");
        var rgba = channels == 1 ? pixels : Enumerable.Range(0, width * height).SelectMany(i => new[] { pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2], (byte)255 }).ToArray();
        int bytesPerPixel = channels == 1 ? 1 : 4;
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var target = bitmap.GetPixelSpan();
        int row = width * bytesPerPixel;
        for (int y = 0; y < height; y++) rgba.AsSpan(y * row, row).CopyTo(target.Slice(y * bitmap.RowBytes, row));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, quality: 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} image as PNG.");
        return data.ToArray();
    }
}
