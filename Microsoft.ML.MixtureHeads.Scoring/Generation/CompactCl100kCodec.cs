using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// cl100k tokenization (Microsoft.ML.Tokenizers) through a <see cref="CompactVocabulary"/> kept from a corpus, as the
/// text classifier does: a language model then needs embedding rows only for the tokens its data uses. Model ids are
/// the vocabulary's: 0 padding, 1 unknown (a cl100k token the vocabulary dropped), 2 start, 3 end of text
/// (<see cref="EndOfText"/>), then the kept tokens by falling frequency.
/// </summary>
public sealed class CompactCl100kCodec : ITokenCodec
{
    /// <summary>The id that ends a text when texts are packed: the vocabulary's separator.</summary>
    public const long EndOfText = CompactVocabulary.Separator;

    /// <summary>The codec over <paramref name="vocabulary"/> (e.g. one restored with <see cref="CompactVocabulary.FromJson"/>).</summary>
    /// <exception cref="ArgumentException">The vocabulary is not over the cl100k stage id space.</exception>
    public CompactCl100kCodec(CompactVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (vocabulary.StageIdSpace != TextTokenIds.IdSpaceSize)
            throw new ArgumentException($"The vocabulary covers {vocabulary.StageIdSpace} stage ids; cl100k needs {TextTokenIds.IdSpaceSize}.", nameof(vocabulary));
        Vocabulary = vocabulary;
    }

    /// <summary>The kept tokens and their ids.</summary>
    public CompactVocabulary Vocabulary { get; }

    /// <summary>Ids a model must embed: the vocabulary's size (reserved ids included).</summary>
    public int VocabularySize => Vocabulary.Size;

    /// <summary>Keeps the (at most <paramref name="maxSize"/> - 4) most frequent cl100k tokens of <paramref name="texts"/> seen at least <paramref name="minCount"/> times.</summary>
    public static CompactCl100kCodec Build(IEnumerable<string> texts, int maxSize = 8192, int minCount = 1)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return new CompactCl100kCodec(CompactVocabulary.Build(texts.Select(StageIds), minCount, maxSize));
    }

    /// <inheritdoc />
    public IReadOnlyList<long> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = StageIds(text);
        Vocabulary.Map(ids, ids);
        return ids;
    }

    /// <summary>The text of model ids: kept tokens decode as cl100k does, an unknown id as U+FFFD, the other reserved ids to nothing.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative or not below <see cref="VocabularySize"/>.</exception>
    public string Decode(IEnumerable<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush()
        {
            if (run.Count > 0) text.Append(TextTokenIds.Cl100k.Decode(run));
            run.Clear();
        }
        foreach (long id in ids)
        {
            if (id < 0 || id >= VocabularySize) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Model token ids lie in [0, {VocabularySize}).");
            if (id >= CompactVocabulary.ReservedCount) run.Add((int)(Vocabulary.Tokens[(int)(id - CompactVocabulary.ReservedCount)] - TextTokenIds.Offset));
            else if (id == CompactVocabulary.Unknown)
            {
                Flush();
                text.Append('\uFFFD');
            }
        }
        Flush();
        return text.ToString();
    }

    /// <summary>The cl100k ids of the whole text (no length cap), shifted into the stage id space.</summary>
    private static long[] StageIds(string text) =>
        TextTokenIds.Cl100k.EncodeToIds(text).Select(id => id + TextTokenIds.Offset).ToArray();
}
