using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

/// <summary>The PNG writer for sample folders: ML.NET's own image decoder reads back exactly the pixels written.</summary>
public sealed class PngEncoderTests
{
    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>R, G, B of pixel (x, y) as ML.NET decoded it, whatever its pixel format.</summary>
    private static (byte R, byte G, byte B) Pixel(MLImage image, int x, int y)
    {
        var p = image.Pixels.Slice((y * image.Width + x) * 4, 4);
        return image.PixelFormat == MLPixelFormat.Bgra32 ? (p[2], p[1], p[0]) : (p[0], p[1], p[2]);
    }

    [Fact]
    public void Grayscale_pixels_decode_back_exactly()
    {
        const int width = 13, height = 7;
        byte[] pixels = RandomBytes(width * height, seed: 1);
        using var image = MLImage.CreateFromStream(new MemoryStream(PngEncoder.EncodeGray8(pixels, width, height)));
        Assert.Equal((width, height), (image.Width, image.Height));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = pixels[y * width + x];
                Assert.Equal((v, v, v), Pixel(image, x, y));
            }
    }

    [Fact]
    public void Colour_pixels_decode_back_exactly()
    {
        const int width = 9, height = 11;
        byte[] pixels = RandomBytes(width * height * 3, seed: 2);
        using var image = MLImage.CreateFromStream(new MemoryStream(PngEncoder.EncodeRgb24(pixels, width, height)));
        Assert.Equal((width, height), (image.Width, image.Height));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                Assert.Equal((pixels[i], pixels[i + 1], pixels[i + 2]), Pixel(image, x, y));
            }
    }

    [Fact]
    public void A_pixel_count_that_does_not_match_the_size_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => PngEncoder.EncodeRgb24(new byte[10], 2, 2));
        Assert.Contains("Expected 12 bytes for 2x2", error.Message);
    }
}
