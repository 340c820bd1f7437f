using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Tests.Plots;

/// <summary>What a test checks of a written PNG: its size and whether anything was drawn.</summary>
internal sealed record PngImage(int Width, int Height, double LuminanceVariance, int DistinctColors)
{
    public static PngImage Read(string path)
    {
        using var bitmap = SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path} is not a decodable image.");
        var pixels = bitmap.Pixels;
        var luminance = pixels.Select(p => 0.299 * p.Red + 0.587 * p.Green + 0.114 * p.Blue).ToArray();
        double mean = luminance.Average();
        return new PngImage(bitmap.Width, bitmap.Height, luminance.Select(l => (l - mean) * (l - mean)).Average(), pixels.Distinct().Count());
    }

    /// <summary>Asserts a real picture: the PNG header, the size asked for, and content beyond a blank or one-colour canvas.</summary>
    public static void AssertDrawn(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(path)[..4]);
        var image = Read(path);
        Assert.Equal((width, height), (image.Width, image.Height));
        Assert.True(image.LuminanceVariance > 100, $"{path} looks blank: luminance variance {image.LuminanceVariance:F1}");
        Assert.True(image.DistinctColors > 20, $"{path} has only {image.DistinctColors} colours");
    }
}
