using Microsoft.ML.MixtureHeads.Scoring;
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
/// Everything that defines a <see cref="MoHTextEncoder"/>: the shared transformer settings plus length, vocabulary,
/// positions and pooling. Saved as JSON inside every exported model. The vocabulary itself (the map from tokenizer
/// ids to embedding rows) is a buffer of the network, saved with the weights.
/// </summary>
public sealed record TextEncoderConfig : TransformerConfig
{
    /// <summary>Tokens the model reads; longer texts keep their first tokens. Default 256.</summary>
    public int MaxLength { get; init; } = 256;

    /// <summary>Embedding rows (the compact vocabulary's size, reserved ids included). Trainers set it from the data. Default 4096.</summary>
    public int VocabularySize { get; init; } = 4096;

    /// <summary>The tokenization stage's id space (cl100k ids shifted by the markers). Default <see cref="TextTokenIds.IdSpaceSize"/>.</summary>
    public long StageIdSpace { get; init; } = TextTokenIds.IdSpaceSize;

    /// <summary>Feed-forward kind of every block. Default SwiGLU.</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.SwiGLU;

    /// <summary>Rotary or learned positions. Default rotary.</summary>
    public TokenPositions Positions { get; init; } = TokenPositions.Rotary;

    /// <summary>Mean over real tokens or the start marker. Default mean.</summary>
    public TextPooling Pooling { get; init; } = TextPooling.Mean;

    /// <summary>Number of classes of the head. Default 2; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 2;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Classes >= 2, nameof(Classes), $"must be at least 2, got {Classes}.");
        Require(MaxLength >= 1, nameof(MaxLength), $"must be at least 1, got {MaxLength}.");
        Require(VocabularySize >= CompactVocabulary.ReservedCount, nameof(VocabularySize), $"must be at least {CompactVocabulary.ReservedCount}, got {VocabularySize}.");
        base.Validate();
    }
}
