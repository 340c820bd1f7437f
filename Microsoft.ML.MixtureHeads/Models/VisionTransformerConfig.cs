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
/// Everything that defines a <see cref="MoHVisionTransformer"/>'s architecture. Saved as JSON inside every exported
/// model, so a model can be rebuilt for further training. Head split: <see cref="SharedHeads"/> always-on heads
/// plus the top-<see cref="RoutedTopK"/> of the remaining routed heads; active heads = (SharedHeads + RoutedTopK) / Heads.
/// </summary>
public sealed record VisionTransformerConfig
{
    /// <summary>Image height and width in pixels. Default 28.</summary>
    public int ImageSize { get; init; } = 28;

    /// <summary>Input channels: 1 (grayscale) or 3 (RGB). Default 1.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Square patch size (the stem's total stride); ImageSize must be a multiple of it. Default 4.</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>Convolutional stem (PatchSize a power of two) or plain patches. Default convolutional.</summary>
    public ImageStem Stem { get; init; } = ImageStem.Convolution;

    /// <summary>Token width. Default 128.</summary>
    public int Dim { get; init; } = 128;

    /// <summary>Number of transformer blocks. Default 4.</summary>
    public int Depth { get; init; } = 4;

    /// <summary>Attention heads per block. Default 8.</summary>
    public int Heads { get; init; } = 8;

    /// <summary>Dense (every head always on), Learned (MoH) or ParameterFree (converted) routing. Default Learned.</summary>
    public HeadRouting Routing { get; init; } = HeadRouting.Learned;

    /// <summary>Always-on heads (ignored for Dense routing). Default 2.</summary>
    public int SharedHeads { get; init; } = 2;

    /// <summary>Routed heads each token picks (ignored for Dense routing). Default 4.</summary>
    public int RoutedTopK { get; init; } = 4;

    /// <summary>Dense feed-forward hidden width as a multiple of <see cref="Dim"/>. Default 2.</summary>
    public double MlpRatio { get; init; } = 2;

    /// <summary>Feed-forward kind of every block. Default GELU MLP.</summary>
    public FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GeluMlp;

    /// <summary>Expert layer options when <see cref="FeedForward"/> is MultiHeadMoE (its Dim must equal <see cref="Dim"/>).</summary>
    public MultiHeadMoEOptions? MoE { get; init; }

    /// <summary>Mean pooling or a class token. Default mean.</summary>
    public ImagePooling Pooling { get; init; } = ImagePooling.Mean;

    /// <summary>Number of classes of the head. Default 10; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>Dropout on attention probabilities. Default 0.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>Per-channel mean of pixels scaled to [0, 1], subtracted before the patch embedding. Default 0.5.</summary>
    public float PixelMean { get; init; } = 0.5f;

    /// <summary>Per-channel standard deviation used to scale pixels after the mean. Default 0.5.</summary>
    public float PixelStd { get; init; } = 0.5f;

    /// <summary>Patches per image side.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Share of heads a token uses, in percent (the number in a registry name).</summary>
    public int ActiveHeadPercent => Routing == HeadRouting.Dense ? 100 : (int)Math.Round(100.0 * (SharedHeads + RoutedTopK) / Heads);

    /// <summary>The attention options of every block.</summary>
    public MoHAttentionOptions AttentionOptions => new()
    {
        Dim = Dim,
        Heads = Heads,
        Routing = Routing,
        SharedHeads = Routing == HeadRouting.Dense ? 0 : SharedHeads,
        RoutedTopK = Routing == HeadRouting.Dense ? 0 : RoutedTopK,
        AttentionDropout = AttentionDropout,
    };

    /// <summary>Checks the whole configuration, naming the first property at fault.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent.</exception>
    public void Validate()
    {
        if (Channels is not (1 or 3)) throw new ArgumentException($"VisionTransformerConfig.Channels must be 1 or 3, got {Channels}.", nameof(Channels));
        if (PatchSize < 1 || ImageSize < PatchSize || ImageSize % PatchSize != 0)
            throw new ArgumentException($"VisionTransformerConfig.ImageSize ({ImageSize}) must be a positive multiple of PatchSize ({PatchSize}).", nameof(ImageSize));
        if (Stem == ImageStem.Convolution && (PatchSize < 2 || (PatchSize & (PatchSize - 1)) != 0))
            throw new ArgumentException($"VisionTransformerConfig.PatchSize ({PatchSize}) must be a power of two for the convolutional stem; use Stem = Patch otherwise.", nameof(PatchSize));
        if (Depth < 1) throw new ArgumentException($"VisionTransformerConfig.Depth must be at least 1, got {Depth}.", nameof(Depth));
        if (Classes < 2) throw new ArgumentException($"VisionTransformerConfig.Classes must be at least 2, got {Classes}.", nameof(Classes));
        if (MlpRatio <= 0) throw new ArgumentException($"VisionTransformerConfig.MlpRatio must be positive, got {MlpRatio}.", nameof(MlpRatio));
        if (PixelStd <= 0) throw new ArgumentException($"VisionTransformerConfig.PixelStd must be positive, got {PixelStd}.", nameof(PixelStd));
        if (FeedForward == FeedForwardKind.MultiHeadMoE && MoE is null)
            throw new ArgumentException("VisionTransformerConfig.MoE must be set when FeedForward is MultiHeadMoE.", nameof(MoE));
        AttentionOptions.Validate();
        MoE?.Validate();
    }
}
