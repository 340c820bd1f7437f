using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Everything that defines a <see cref="MoHDiT"/> (a class-conditional diffusion transformer, DiT with MoH attention):
/// the shared transformer settings plus image size, channels, patch size, class count and the timestep embedding width.
/// It predicts the noise or the velocity (<see cref="Prediction"/>; DiT's <c>learn_sigma</c> is off), so its output
/// has the input's channels.
/// Saved as JSON inside every exported denoiser.
/// </summary>
public sealed record DiTConfig : TransformerConfig
{
    /// <summary>Image height and width in pixels. Default 28 (Fashion-MNIST).</summary>
    public int ImageSize { get; init; } = 28;

    /// <summary>Image channels, in and out. Default 1.</summary>
    public int Channels { get; init; } = 1;

    /// <summary>Square patch size; ImageSize must be a multiple of it. Default 4 (49 tokens at 28 x 28).</summary>
    public int PatchSize { get; init; } = 4;

    /// <summary>Number of classes; the label embedding has one more row, the null class of classifier-free guidance. Default 10.</summary>
    public int Classes { get; init; } = 10;

    /// <summary>
    /// What the network outputs and training regresses. Default Velocity: an Epsilon model (DiT's choice, trained there
    /// for 400K+ steps) sampled noise after the ~600 steps our bench affords, a Velocity model garments
    /// (docs/decisions.md).
    /// </summary>
    public PredictionTarget Prediction { get; init; } = PredictionTarget.Velocity;

    /// <summary>Width of the sinusoidal timestep features fed to the timestep MLP (DiT: 256). Default 256.</summary>
    public int FrequencyEmbeddingSize { get; init; } = 256;

    /// <summary>
    /// The last this many blocks use dense attention whatever <see cref="TransformerConfig.Routing"/> says, as the
    /// paper's MoH-DiT-90 configs keep their deepest layers dense. Default 0.
    /// </summary>
    public int DenseLastBlocks { get; init; }

    /// <summary>Feed-forward kind of every block (DiT: a GELU MLP). Default GELU MLP.</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GeluMlp;

    /// <summary>Patches per image side.</summary>
    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>The null class's label index (<see cref="Classes"/>): the unconditional prediction of classifier-free guidance.</summary>
    public int NullClass => Classes;

    /// <summary>Share of heads a token uses over all blocks, in percent, counting dense blocks as 100% (the paper's count).</summary>
    public int ActiveHeadPercentOverall
    {
        get
        {
            int denseBlocks = Routing == HeadRouting.Dense ? Depth : DenseLastBlocks;
            double active = denseBlocks * Heads + (Depth - denseBlocks) * (double)(SharedHeads + RoutedTopK);
            return (int)Math.Round(100 * active / (Depth * (double)Heads));
        }
    }

    /// <summary>The attention options of block <paramref name="index"/> (dense for the last <see cref="DenseLastBlocks"/>).</summary>
    public MoHAttentionOptions AttentionOptionsOf(int index) =>
        index >= Depth - DenseLastBlocks ? AttentionOptions with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 } : AttentionOptions;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Channels >= 1, nameof(Channels), $"must be at least 1, got {Channels}.");
        Require(Classes >= 1, nameof(Classes), $"must be at least 1, got {Classes}.");
        Require(PatchSize >= 1 && ImageSize >= PatchSize && ImageSize % PatchSize == 0, nameof(ImageSize),
            $"({ImageSize}) must be a positive multiple of PatchSize ({PatchSize}).");
        Require(FrequencyEmbeddingSize >= 2 && FrequencyEmbeddingSize % 2 == 0, nameof(FrequencyEmbeddingSize),
            $"must be a positive even number, got {FrequencyEmbeddingSize}.");
        Require(Dim % 4 == 0, nameof(Dim), $"({Dim}) must be divisible by 4 for the 2-D sin-cos position embedding.");
        Require(DenseLastBlocks >= 0 && DenseLastBlocks <= Depth, nameof(DenseLastBlocks), $"must be between 0 and Depth ({Depth}), got {DenseLastBlocks}.");
        Require(FeedForward == FeedForwardKind.GeluMlp, nameof(FeedForward), $"must be GeluMlp (DiT's MLP), got {FeedForward}.");
        base.Validate();
    }
}
