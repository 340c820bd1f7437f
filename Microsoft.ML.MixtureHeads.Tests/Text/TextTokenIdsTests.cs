using Microsoft.ML.MixtureHeads.Scoring;
using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>The id space and caps of the tokenization stages, on hand-made texts.</summary>
public sealed class TextTokenIdsTests
{
    private const long Start = TextTokenIds.Start, Sep = TextTokenIds.Separator;

    [Fact]
    public void Empty_text_gives_the_start_marker_alone_and_an_empty_pair_start_and_separator()
    {
        Assert.Equal([Start], TextTokenIds.Encode(""));
        Assert.Equal([Start], TextTokenIds.Encode(null));
        Assert.Equal([Start, Sep], TextTokenIds.EncodePair("", null));
    }

    [Fact]
    public void Cl100k_ids_are_shifted_by_three()
    {
        // cl100k_base (tiktoken): "hello" = 15339, " world" = 1917.
        Assert.Equal([Start, 15339 + 3, 1917 + 3], TextTokenIds.Encode("hello world"));
        Assert.Equal([Start, 15339 + 3, Sep, 1917 + 3], TextTokenIds.EncodePair("hello", " world"));
        Assert.Equal(100_277 + 3, TextTokenIds.IdSpaceSize);   // cl100k's highest id is <|endofprompt|> = 100276
    }

    [Fact]
    public void Long_text_keeps_its_first_MaxTokens_tokens()
    {
        string text = string.Concat(Enumerable.Range(0, 3000).Select(i => $"word{i} "));
        var ids = TextTokenIds.Encode(text);
        Assert.Equal(1 + TextTokenIds.MaxTokens, ids.Length);
        Assert.StartsWith(SpamMails.Decode(ids.Skip(1)), text, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_beyond_MaxCharacters_is_ignored_and_a_surrogate_pair_is_not_split()
    {
        // A run of dashes is one pre-token that cl100k covers with 64-dash tokens, so the character cap binds first.
        var ids = TextTokenIds.Encode(new string('-', TextTokenIds.MaxCharacters + 5000));
        Assert.Equal(new string('-', TextTokenIds.MaxCharacters), SpamMails.Decode(ids.Skip(1)));

        string prefix = new('-', TextTokenIds.MaxCharacters - 1);
        ids = TextTokenIds.Encode(prefix + "\U0001F600 tail");   // the emoji's high surrogate is the last character read
        Assert.Equal(prefix, SpamMails.Decode(ids.Skip(1)));
    }

    [Fact]
    public void A_huge_word_without_spaces_costs_bounded_time()
    {
        var clock = Stopwatch.StartNew();
        var ids = TextTokenIds.Encode(new string('a', 2_000_000));   // uncapped, cl100k's BPE takes minutes on this
        Assert.InRange(ids.Length, 2, 1 + TextTokenIds.MaxTokens);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData(10, 5000, 10, 2037)]      // a short first text leaves its share to the second
    [InlineData(5000, 10, 2037, 10)]      // and the other way round
    [InlineData(5000, 5000, 1023, 1024)]  // both long: half each
    [InlineData(1500, 300, 1500, 300)]    // both fit
    public void Pair_shares_the_cap(int wordsA, int wordsB, int expectedA, int expectedB)
    {
        // " x" is one cl100k token, so a text of n such words has n tokens.
        string a = string.Concat(Enumerable.Repeat(" x", wordsA)), b = string.Concat(Enumerable.Repeat(" y", wordsB));
        var ids = TextTokenIds.EncodePair(a, b);
        Assert.Equal(2 + expectedA + expectedB, ids.Length);
        Assert.Equal(Start, ids[0]);
        Assert.Equal(Sep, ids[1 + expectedA]);
        Assert.Equal(a[..(2 * expectedA)], SpamMails.Decode(ids[1..(1 + expectedA)]));
        Assert.Equal(b[..(2 * expectedB)], SpamMails.Decode(ids[(2 + expectedA)..]));
    }

    [Fact]
    public void The_shared_tokenizer_gives_the_same_ids_from_many_threads()
    {
        var texts = SpamMails.Messages.Take(600).Select(m => m.Text).ToArray();
        var serial = texts.Select(TextTokenIds.Encode).ToArray();
        var parallel = new long[texts.Length][];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => parallel[i] = TextTokenIds.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(serial[i], parallel[i]);
    }
}
