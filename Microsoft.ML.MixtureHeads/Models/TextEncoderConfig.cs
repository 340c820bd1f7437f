using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>How a text encoder knows where a token is.</summary>
public enum TokenPositions
{
    /// <summary>Rotary embeddings applied to queries and keys (no parameters; RoFormer / LLaMA).</summary>
    Rotary,

    /// <summary>A learned position table added to the token embeddings (BERT / ViT).</summary>
    Learned,
}

/// <summary>How a text encoder turns its tokens into one vector for the classifier head.</summary>
public enum TextPooling
{
    /// <summary>Mean over the real (non-padding) tokens.</summary>
    Mean,

    /// <summary>The hidden state of the start marker every text begins with.</summary>
    Start,
}

/// <summary>
/// Everything that defines a <see cref="MoHTextEncoder"/>. Saved as JSON inside every exported model. The vocabulary
/// itself (the map from tokenizer ids to embedding rows) is a buffer of the network, saved with the weights.
/// </summary>
public sealed record TextEncoderConfig
{
    /// <summary>Tokens the model reads; longer texts keep their first tokens. Default 256.</summary>
    public int MaxLength { get; init; } = 256;

    /// <summary>Embedding rows (the compact vocabulary's size, reserved ids included). Trainers set it from the data. Default 4096.</summary>
    public int VocabularySize { get; init; } = 4096;

    /// <summary>The tokenization stage's id space (cl100k ids shifted by the markers). Default <see cref="TextTokenIds.IdSpaceSize"/>.</summary>
    public long StageIdSpace { get; init; } = TextTokenIds.IdSpaceSize;

    /// <summary>Token width. Default 128.</summary>
    public int Dim { get; init; } = 128;

    /// <summary>Number of transformer blocks. Default 4.</summary>
    public int Depth { get; init; } = 4;

    /// <summary>Attention heads per block. Default 8.</summary>
    public int Heads { get; init; } = 8;

    /// <summary>Dense, Learned (MoH) or ParameterFree routing. Default Learned.</summary>
    public HeadRouting Routing { get; init; } = HeadRouting.Learned;

    /// <summary>Always-on heads (ignored for Dense routing). Default 2.</summary>
    public int SharedHeads { get; init; } = 2;

    /// <summary>Routed heads each token picks (ignored for Dense routing). Default 4.</summary>
    public int RoutedTopK { get; init; } = 4;

    /// <summary>Dense feed-forward hidden width as a multiple of <see cref="Dim"/>. Default 2.</summary>
    public double MlpRatio { get; init; } = 2;

    /// <summary>Feed-forward kind of every block. Default SwiGLU.</summary>
    public FeedForwardKind FeedForward { get; init; } = FeedForwardKind.SwiGLU;

    /// <summary>Expert layer options when <see cref="FeedForward"/> is MultiHeadMoE.</summary>
    public MultiHeadMoEOptions? MoE { get; init; }

    /// <summary>Full precision or BitNet b1.58 projections in attention and dense feed-forward layers. Default dense.</summary>
    public LinearKind Linear { get; init; } = LinearKind.Dense;

    /// <summary>Rotary or learned positions. Default rotary.</summary>
    public TokenPositions Positions { get; init; } = TokenPositions.Rotary;

    /// <summary>Mean over real tokens or the start marker. Default mean.</summary>
    public TextPooling Pooling { get; init; } = TextPooling.Mean;

    /// <summary>Number of classes of the head. Default 2; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 2;

    /// <summary>Dropout on attention probabilities. Default 0.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>Share of heads a token uses, in percent.</summary>
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
        Linear = Linear,
    };

    /// <summary>Checks the whole configuration, naming the first property at fault.</summary>
    public void Validate()
    {
        if (MaxLength < 1) throw new ArgumentException($"TextEncoderConfig.MaxLength must be at least 1, got {MaxLength}.", nameof(MaxLength));
        if (VocabularySize < CompactVocabulary.ReservedCount)
            throw new ArgumentException($"TextEncoderConfig.VocabularySize must be at least {CompactVocabulary.ReservedCount}, got {VocabularySize}.", nameof(VocabularySize));
        if (Depth < 1) throw new ArgumentException($"TextEncoderConfig.Depth must be at least 1, got {Depth}.", nameof(Depth));
        if (Classes < 2) throw new ArgumentException($"TextEncoderConfig.Classes must be at least 2, got {Classes}.", nameof(Classes));
        if (MlpRatio <= 0) throw new ArgumentException($"TextEncoderConfig.MlpRatio must be positive, got {MlpRatio}.", nameof(MlpRatio));
        if (FeedForward == FeedForwardKind.MultiHeadMoE && MoE is null)
            throw new ArgumentException("TextEncoderConfig.MoE must be set when FeedForward is MultiHeadMoE.", nameof(MoE));
        AttentionOptions.Validate();
        MoE?.Validate();
    }
}
