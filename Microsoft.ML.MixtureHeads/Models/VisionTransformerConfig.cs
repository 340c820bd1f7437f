using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>How a vision transformer turns its tokens into one vector for the classifier head.</summary>
public enum ImagePooling
{
    /// <summary>Mean over the patch tokens (as MoH-ViT / TransNeXt).</summary>
    Mean,

    /// <summary>A learned class token prepended to the patches (as the original ViT).</summary>
    ClassToken,
}

/// <summary>How a vision transformer cuts an image into tokens.</summary>
public enum ImageStem
{
    /// <summary>Overlapping 3x3 stride-2 convolutions (<see cref="ConvStem"/>), as TransNeXt; trains much faster on small data.</summary>
    Convolution,

    /// <summary>One non-overlapping p x p convolution (<see cref="PatchEmbedding"/>), as the original ViT.</summary>
    Patch,
}

/// <summary>
/// Everything that defines a <see cref="MoHVisionTransformer"/>'s architecture: the shared transformer settings plus
/// image size, channels, stem, pooling and pixel normalisation. Saved as JSON inside every exported model, so a model
/// can be rebuilt for further training.
/// </summary>
public sealed record VisionTransformerConfig : TransformerConfig
{
    /// <summary>Image height and width in pixels. Default 28.</summary>
    public int ImageSize { get; init; } = 28;

    /// <summary>Input channels: 1 (grayscale) or 3 (RGB). Default 1.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Square patch size (the stem's total stride); ImageSize must be a multiple of it. Default 4.</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>Convolutional stem (PatchSize a power of two) or plain patches. Default convolutional.</summary>
    public ImageStem Stem { get; init; } = ImageStem.Convolution;

    /// <summary>
    /// Batch normalisation between the convolutional stem's convolutions. Default false (as models saved before it
    /// existed); the registered models set it (measured: docs/decisions.md). No effect with <see cref="ImageStem.Patch"/>.
    /// </summary>
    public bool StemBatchNorm { get; init; }

    /// <summary>Feed-forward kind of every block. Default GELU MLP.</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GeluMlp;

    /// <summary>Mean pooling or a class token. Default mean.</summary>
    public ImagePooling Pooling { get; init; } = ImagePooling.Mean;

    /// <summary>Number of classes of the head. Default 10; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Per-channel mean of pixels scaled to [0, 1], subtracted before the patch embedding. Default 0.5.</summary>
    public float PixelMean { get; init; } = 0.5f;

    /// <summary>Per-channel standard deviation used to scale pixels after the mean. Default 0.5.</summary>
    public float PixelStd { get; init; } = 0.5f;

    /// <summary>Patches per image side.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Classes >= 2, nameof(Classes), $"must be at least 2, got {Classes}.");
        Require(Channels is 1 or 3, nameof(Channels), $"must be 1 or 3, got {Channels}.");
        Require(PatchSize >= 1 && ImageSize >= PatchSize && ImageSize % PatchSize == 0, nameof(ImageSize),
            $"({ImageSize}) must be a positive multiple of PatchSize ({PatchSize}).");
        Require(Stem != ImageStem.Convolution || (PatchSize >= 2 && (PatchSize & (PatchSize - 1)) == 0), nameof(PatchSize),
            $"({PatchSize}) must be a power of two for the convolutional stem; use Stem = Patch otherwise.");
        Require(PixelStd > 0, nameof(PixelStd), $"must be positive, got {PixelStd}.");
        base.Validate();
    }
}
