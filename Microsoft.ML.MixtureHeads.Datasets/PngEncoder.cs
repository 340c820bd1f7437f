using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Encodes 8-bit images as PNG with SkiaSharp (the library ML.NET's image stages decode with), so image
/// pipelines see bytes like a user's own files.</summary>
public static class PngEncoder
{
    /// <summary>PNG bytes of a <paramref name="width"/> x <paramref name="height"/> grayscale image, rows top to bottom.</summary>
    public static byte[] EncodeGray8(ReadOnlySpan<byte> pixels, int width, int height) =>
        Encode(pixels, width, height, SKColorType.Gray8, bytesPerPixel: 1);

    /// <summary>PNG bytes of a <paramref name="width"/> x <paramref name="height"/> colour image given as interleaved
    /// R, G, B bytes, rows top to bottom.</summary>
    public static byte[] EncodeRgb24(ReadOnlySpan<byte> pixels, int width, int height)
    {
        CheckSize(pixels.Length, width, height, bytesPerPixel: 3);
        var rgba = new byte[width * height * 4];
        for (int i = 0, o = 0; i < pixels.Length; i += 3, o += 4)
        {
            rgba[o] = pixels[i];
            rgba[o + 1] = pixels[i + 1];
            rgba[o + 2] = pixels[i + 2];
            rgba[o + 3] = 255;
        }
        return Encode(rgba, width, height, SKColorType.Rgba8888, bytesPerPixel: 4);
    }

    private static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, SKColorType colorType, int bytesPerPixel)
    {
        CheckSize(pixels.Length, width, height, bytesPerPixel);
        var info = new SKImageInfo(width, height, colorType, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var target = bitmap.GetPixelSpan();
        int row = width * bytesPerPixel;
        for (int y = 0; y < height; y++) pixels.Slice(y * row, row).CopyTo(target.Slice(y * bitmap.RowBytes, row));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, quality: 100)
            ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} {colorType} image as PNG.");
        return data.ToArray();
    }

    private static void CheckSize(int length, int width, int height, int bytesPerPixel)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"Image size {width}x{height} must be positive.");
        if (length != width * height * bytesPerPixel)
            throw new ArgumentException($"Expected {width * height * bytesPerPixel} bytes for {width}x{height} at {bytesPerPixel} per pixel, got {length}.", nameof(length));
    }
}
