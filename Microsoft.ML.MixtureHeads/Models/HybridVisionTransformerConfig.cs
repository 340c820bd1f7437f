using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Everything that defines a <see cref="MoHHybridVisionTransformer"/>: the shared transformer settings plus the
/// image size, how many ResNet-18 stages make the trunk, and how many of them train. Saved as JSON inside every
/// exported model.
/// </summary>
public sealed record HybridVisionTransformerConfig : TransformerConfig
{
    /// <summary>Image height and width (RGB); a multiple of the trunk's stride. Default 224, ImageNet's size, for which the
    /// pretrained mean image was made (other sizes resize it).</summary>
    public int ImageSize { get; init; } = 224;

    /// <summary>ResNet-18 stages kept as the trunk, 1-4 (output strides 4, 8, 16, 32). Default 4.</summary>
    public int TrunkStages { get; init; } = 4;

    /// <summary>Trunk stages, counted from the last, whose weights train; the others are frozen and their output is
    /// computed once per image and cached during training. Default 0 (the whole trunk frozen).</summary>
    public int TrainableTrunkStages { get; init; }

    /// <summary>Feed-forward kind of every block. Default GELU MLP.</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GeluMlp;

    /// <summary>Number of classes of the head. Default 10; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>The trunk's total stride.</summary>
    public int TrunkStride => 4 << (TrunkStages - 1);

    /// <summary>Tokens per image side: the trunk's output grid.</summary>
    public int TokensPerSide => ImageSize / TrunkStride;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Classes >= 2, nameof(Classes), $"must be at least 2, got {Classes}.");
        Require(TrunkStages is >= 1 and <= 4, nameof(TrunkStages), $"must be 1-4 (ResNet-18 has four stages), got {TrunkStages}.");
        Require(TrainableTrunkStages >= 0 && TrainableTrunkStages <= TrunkStages, nameof(TrainableTrunkStages),
            $"must be 0-{TrunkStages} (TrunkStages), got {TrainableTrunkStages}.");
        Require(ImageSize >= TrunkStride && ImageSize % TrunkStride == 0, nameof(ImageSize),
            $"({ImageSize}) must be a positive multiple of the trunk's stride ({TrunkStride}).");
        base.Validate();
    }
}
