using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>
/// The token id space of the text tokenization stages: cl100k_base (the GPT-4 encoding) shifted by three so that
/// <see cref="Padding"/>, <see cref="Start"/> and <see cref="Separator"/> can precede it. A text becomes
/// <c>[Start] t1+3 t2+3 ...</c>, a sentence pair <c>[Start] a... [Separator] b...</c>; an empty text still gives
/// the one <see cref="Start"/> token. Padding is never produced: it is the fill value of padded batches.
/// </summary>
/// <remarks>
/// Two hard caps bound the cost of huge inputs (a mail with a pasted log or an inline base64 blob). Each text is cut
/// to its first <see cref="MaxCharacters"/> characters, because BPE on one long run without spaces costs more than
/// linear time (docs/decisions.md). At most <see cref="MaxTokens"/> tokens follow <see cref="Start"/>; a capped text may end a token short
/// of the cap, since the tokenizer never splits the tokens of one character (seen on SpamAssassin's Latin-1 spam).
/// A model's own maximum length, usually far shorter, is applied later, inside the model.
/// </remarks>
public static class TextTokenIds
{
    /// <summary>Fill value of padded batches; never produced by the stages.</summary>
    public const long Padding = 0;

    /// <summary>The class/start marker that begins every token sequence.</summary>
    public const long Start = 1;

    /// <summary>Separates the two texts of a sentence pair.</summary>
    public const long Separator = 2;

    /// <summary>cl100k token <c>t</c> has id <c>t + Offset</c>.</summary>
    public const long Offset = 3;

    /// <summary>The most tokens that follow <see cref="Start"/> (for a pair: both texts and the separator together).</summary>
    public const int MaxTokens = 2048;

    /// <summary>Characters of each text that are read; the rest is ignored (see remarks).</summary>
    public const int MaxCharacters = 8 * MaxTokens;

    /// <summary>The one cl100k_base tokenizer of the process, shared by every thread
    /// (parallel encoding gives the serial ids; a test pins it).</summary>
    internal static TiktokenTokenizer Cl100k { get; } = TiktokenTokenizer.CreateForEncoding("cl100k_base");

    /// <summary>Every id the stages can produce is below this: <see cref="Offset"/> + cl100k's highest id + 1
    /// (its special tokens come after the 100,256 byte-pair ids).</summary>
    public static long IdSpaceSize { get; } = Offset + Cl100k.SpecialTokens!.Values.Max() + 1;

    /// <summary>The token ids of one text: <c>[Start] tokens...</c>.</summary>
    public static long[] Encode(string? text)
    {
        var tokens = EncodeCapped(text, MaxTokens);
        var ids = new long[1 + tokens.Count];
        ids[0] = Start;
        CopyShifted(tokens, ids.AsSpan(1));
        return ids;
    }

    /// <summary>
    /// The token ids of a sentence pair: <c>[Start] a... [Separator] b...</c>. When both texts together exceed the
    /// cap, each keeps at least half of it and a shorter one leaves its unused share to the other.
    /// </summary>
    public static long[] EncodePair(string? first, string? second)
    {
        const int budget = MaxTokens - 1;
        var a = EncodeCapped(first, budget);
        var b = EncodeCapped(second, budget);
        int keepA = a.Count, keepB = b.Count;
        if (keepA + keepB > budget)
        {
            const int half = budget / 2;
            keepA = keepA <= half ? keepA : Math.Max(half, budget - keepB);
            keepB = budget - keepA;
        }
        var ids = new long[2 + keepA + keepB];
        ids[0] = Start;
        CopyShifted(a, ids.AsSpan(1, keepA));
        ids[1 + keepA] = Separator;
        CopyShifted(b, ids.AsSpan(2 + keepA));
        return ids;
    }

    private static IReadOnlyList<int> EncodeCapped(string? text, int maxTokens)
    {
        if (string.IsNullOrEmpty(text)) return [];
        int length = Math.Min(text.Length, MaxCharacters);
        if (length < text.Length && char.IsHighSurrogate(text[length - 1])) length--;   // never split a surrogate pair
        return Cl100k.EncodeToIds(text.AsSpan(0, length), maxTokens, out _, out _);
    }

    /// <summary>Fills <paramref name="destination"/> with the first tokens, shifted into the stage id space.</summary>
    private static void CopyShifted(IReadOnlyList<int> tokens, Span<long> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = tokens[i] + Offset;
    }
}
