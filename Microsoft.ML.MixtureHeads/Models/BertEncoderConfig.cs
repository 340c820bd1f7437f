using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Everything that defines a <see cref="BertEncoder"/>: a BERT-compatible post-norm encoder (learned positions,
/// token types, LayerNorm, exact GELU MLP) whose attention may be converted to MoH, with mean pooling and a classifier
/// head. Saved as JSON inside every exported model. The defaults are all-MiniLM-L6-v2's shape.
/// </summary>
public sealed record BertEncoderConfig : TransformerConfig
{
    /// <summary>Builds a config with all-MiniLM-L6-v2's shape (384 wide, 6 layers, 12 heads, MLP 1536) and dense attention.</summary>
    public BertEncoderConfig()
    {
        Dim = 384;
        Depth = 6;
        Heads = 12;
        MlpRatio = 4;
        Routing = HeadRouting.Dense;
        SharedHeads = 0;
        RoutedTopK = 0;
    }

    /// <summary>Rows of the word embedding table (the WordPiece vocabulary; id 0 is [PAD]). Default 30,522 (bert-base-uncased).</summary>
    public int VocabularySize { get; init; } = 30522;

    /// <summary>Rows of the position table: the longest sequence the encoder can read. Default 512.</summary>
    public int MaxPositions { get; init; } = 512;

    /// <summary>Rows of the token type (segment) table. Default 2.</summary>
    public int TokenTypes { get; init; } = 2;

    /// <summary>Tokens the classifier reads per text ([CLS] included); longer texts keep their first tokens. Default 128.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>Epsilon of every LayerNorm. Default 1e-12 (BERT).</summary>
    public double NormEps { get; init; } = 1e-12;

    /// <summary>Number of classes of the head. Default 2; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 2;

    /// <summary>The pretrained weights a trainer starts from (see <see cref="PretrainedEncoderNames"/>), or null for a random start. Default null.</summary>
    public string? Pretrained { get; init; }

    /// <summary>BERT's feed-forward network: always <see cref="FeedForwardKind.GeluMlp"/>.</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.GeluMlp;

    /// <inheritdoc />
    public override void Validate()
    {
        Require(Classes >= 2, nameof(Classes), $"must be at least 2, got {Classes}.");
        Require(VocabularySize >= 1, nameof(VocabularySize), $"must be at least 1, got {VocabularySize}.");
        Require(MaxPositions >= 1, nameof(MaxPositions), $"must be at least 1, got {MaxPositions}.");
        Require(TokenTypes >= 1, nameof(TokenTypes), $"must be at least 1, got {TokenTypes}.");
        Require(MaxLength >= 1 && MaxLength <= MaxPositions, nameof(MaxLength), $"must be between 1 and MaxPositions ({MaxPositions}), got {MaxLength}.");
        Require(NormEps > 0, nameof(NormEps), $"must be positive, got {NormEps}.");
        Require(FeedForward == FeedForwardKind.GeluMlp, nameof(FeedForward), $"must be GeluMlp (BERT's), got {FeedForward}.");
        Require(Linear == LinearKind.Dense, nameof(Linear), $"must be Dense, got {Linear}.");
        Require(Pretrained is null || PretrainedEncoderNames.IsKnown(Pretrained), nameof(Pretrained),
            $"names no known pretrained encoder: '{Pretrained}' (known: {string.Join(", ", PretrainedEncoderNames.All)}).");
        base.Validate();
    }
}
