namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>One generated image.</summary>
/// <param name="Label">The class it was generated for (0-based).</param>
/// <param name="Channels">Channels C.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Pixels">Values in [0, 1], laid out [C, H, W] row-major.</param>
public sealed record GeneratedImage(int Label, int Channels, int Height, int Width, float[] Pixels)
{
    /// <summary>The pixels as bytes 0-255, laid out [H, W, C] (grayscale: one byte per pixel).</summary>
    public byte[] ToBytes()
    {
        var bytes = new byte[Pixels.Length];
        int plane = Height * Width;
        for (int c = 0; c < Channels; c++)
            for (int i = 0; i < plane; i++)
                bytes[i * Channels + c] = (byte)Math.Clamp((int)Math.Round(Pixels[c * plane + i] * 255.0), 0, 255);
        return bytes;
    }

    /// <summary>The image as PNG bytes.</summary>
    public byte[] ToPng() => ImageGrid.EncodePng(ToBytes(), Width, Height, Channels);
}
