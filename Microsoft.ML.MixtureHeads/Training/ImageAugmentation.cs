using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Light image augmentation on a batch [B, C, H, W]: random crop after zero padding, optional horizontal flip.</summary>
/// <param name="Padding">Pixels of zero padding on each side before the random crop back to H x W; 0 = no crop.</param>
/// <param name="HorizontalFlip">Flip half of the images left-right (off for data where a flip changes the class).</param>
public sealed record ImageAugmentation(int Padding, bool HorizontalFlip)
{
    /// <summary>No augmentation.</summary>
    public static ImageAugmentation None { get; } = new(0, false);

    /// <summary>Augments <paramref name="images"/> [B, C, H, W] with randomness from <paramref name="generator"/>.</summary>
    public Tensor Apply(Tensor images, Generator generator)
    {
        long batch = images.shape[0], height = images.shape[2], width = images.shape[3];
        if (Padding > 0)
        {
            var padded = nn.functional.pad(images, [Padding, Padding, Padding, Padding]);
            var offsets = randint(0, 2 * Padding + 1, [batch, 2], generator: generator).data<long>().ToArray();
            images = stack(Enumerable.Range(0, (int)batch).Select(i =>
                padded[i].narrow(1, offsets[2 * i], height).narrow(2, offsets[2 * i + 1], width)).ToList());
        }
        if (HorizontalFlip)
        {
            var flip = rand([batch], generator: generator).lt(Scalars.Of(0.5)).reshape(batch, 1, 1, 1);
            images = where(flip, images.flip(3), images);
        }
        return images;
    }
}
