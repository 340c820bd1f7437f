namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// A <see cref="LMTextClassifier"/>: a pretrained causal LM's architecture (its embeddings and blocks become the
/// encoder), the classes of the new head, and how many tokens a text keeps. Saved as JSON inside every exported model.
/// </summary>
public sealed record LMTextClassifierConfig : ModelConfig
{
    /// <summary>The language model whose embeddings, blocks and final norm the classifier reuses (byte-level: 257 ids).</summary>
    public CausalLMConfig Language { get; init; } = new();

    /// <summary>Number of classes of the head. Default 2; trainers set it from the label's key type.</summary>
    public int Classes { get; init; } = 2;

    /// <summary>Tokens a text keeps (the end-of-text marker included); at most <c>Language.MaxLength</c>. Default 256.</summary>
    public int MaxLength { get; init; } = 256;

    /// <inheritdoc />
    public override void Validate()
    {
        if (Language is null) throw new ArgumentException($"{nameof(LMTextClassifierConfig)}.{nameof(Language)} must be set.", nameof(Language));
        Language.Validate();
        if (Language.VocabularySize != 257)
            throw new ArgumentException($"{nameof(LMTextClassifierConfig)}.{nameof(Language)}.VocabularySize must be 257 (byte-level), got {Language.VocabularySize}.", nameof(Language));
        if (Classes < 2) throw new ArgumentException($"{nameof(LMTextClassifierConfig)}.{nameof(Classes)} must be at least 2, got {Classes}.", nameof(Classes));
        if (MaxLength < 1 || MaxLength > Language.MaxLength)
            throw new ArgumentException($"{nameof(LMTextClassifierConfig)}.{nameof(MaxLength)} must lie in [1, Language.MaxLength = {Language.MaxLength}], got {MaxLength}.", nameof(MaxLength));
    }
}
