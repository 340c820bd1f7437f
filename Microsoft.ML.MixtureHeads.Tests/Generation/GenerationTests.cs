using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Generation;

/// <summary>Each generation option does what it says: greedy, temperature, top-k, top-p, repetition penalty, seed, stop tokens and texts, streaming.</summary>
public sealed class GenerationTests
{
    /// <summary>Ids 0..25 are the letters a..z.</summary>
    private sealed class Letters : ITokenCodec
    {
        public IReadOnlyList<long> Encode(string text) => text.Select(c => (long)(c - 'a')).ToList();

        public string Decode(IEnumerable<long> ids) => string.Concat(ids.Select(id => (char)('a' + id)));
    }

    private static MoHCausalLM LetterModel(int seed) =>
        CausalLMCacheTests.Model(CausalLMCacheTests.ConfigOf("learned MoH, MH-MoE h=2") with { VocabularySize = 26, MaxLength = 64 }, seed);

    private static readonly long[] Prompt = [7, 4, 11, 11, 14];

    [Fact]
    public void Top_k_of_one_equals_greedy_and_seeds_decide_sampled_text()
    {
        using var model = LetterModel(91);
        var generator = new CausalLMGenerator(model);
        var greedy = generator.GenerateTokens(Prompt, new() { Temperature = 0, MaxNewTokens = 30 }).ToList();
        Assert.Equal(greedy, generator.GenerateTokens(Prompt, new() { Temperature = 1.5, TopK = 1, MaxNewTokens = 30, Seed = 9 }));

        var hot = new GenerationOptions { Temperature = 2, MaxNewTokens = 30, Seed = 1 };
        var first = generator.GenerateTokens(Prompt, hot).ToList();
        Assert.Equal(first, generator.GenerateTokens(Prompt, hot));
        Assert.NotEqual(first, generator.GenerateTokens(Prompt, hot with { Seed = 2 }));
        Assert.NotEqual(greedy, first);
    }

    [Fact]
    public void Top_k_and_top_p_draw_only_from_the_kept_tokens()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05.
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f)];
        var random = new Random(3);
        int[] Counts(GenerationOptions o)
        {
            var counts = new int[4];
            for (int i = 0; i < 2000; i++) counts[TokenSampler.Next(logits, new HashSet<long>(), o, random)]++;
            return counts;
        }
        var all = Counts(new());
        Assert.All(all, c => Assert.True(c > 0));
        Assert.InRange(all[0], 900, 1100);                                                   // about half
        var topTwo = Counts(new() { TopK = 2 });
        Assert.Equal(0, topTwo[2] + topTwo[3]);
        Assert.InRange(topTwo[0], 1150, 1350);                                               // 0.5 / 0.8 = 62.5 %
        var nucleus = Counts(new() { TopP = 0.7 });                                          // 0.5 + 0.3 reach 0.7
        Assert.Equal(0, nucleus[2] + nucleus[3]);
        Assert.True(nucleus[1] > 0);
        Assert.Equal([2000, 0, 0, 0], Counts(new() { TopP = 0.5 }));                         // the first alone reaches 0.5
        Assert.True(Counts(new() { Temperature = 0.3 })[0] > Counts(new() { Temperature = 3 })[0] + 500, "a low temperature sharpens");
    }

    [Fact]
    public void Repetition_penalty_changes_the_choice_exactly_when_it_outweighs_the_margin()
    {
        var greedy = new GenerationOptions { Temperature = 0 };
        var random = new Random(0);
        long Pick(float[] logits, double penalty, params long[] seen) =>
            TokenSampler.Next(logits, new HashSet<long>(seen), greedy with { RepetitionPenalty = penalty }, random);

        float[] positive = [2.0f, 1.9f, -1f];
        Assert.Equal(0, Pick(positive, 1.0, 0));
        Assert.Equal(0, Pick(positive, 1.02, 0));   // 2 / 1.02 = 1.96 > 1.9
        Assert.Equal(1, Pick(positive, 1.2, 0));    // 2 / 1.2 = 1.67 < 1.9
        Assert.Equal(0, Pick(positive, 1.2, 2));    // only seen tokens are penalised
        float[] negative = [-1.0f, -1.1f];
        Assert.Equal(1, Pick(negative, 1.2, 0));    // -1 * 1.2 = -1.2 < -1.1

        // In generation: a strong penalty makes greedy text use more distinct letters.
        using var model = LetterModel(92);
        var generator = new CausalLMGenerator(model);
        var plain = generator.GenerateTokens(Prompt, greedy with { MaxNewTokens = 26 }).ToList();
        var penalised = generator.GenerateTokens(Prompt, greedy with { MaxNewTokens = 26, RepetitionPenalty = 100 }).ToList();
        Assert.True(penalised.Distinct().Count() > plain.Distinct().Count(), $"{string.Join(" ", plain)} vs {string.Join(" ", penalised)}");
    }

    [Fact]
    public void Stop_tokens_and_stop_texts_end_generation_before_them()
    {
        using var model = LetterModel(93);
        var generator = new CausalLMGenerator(model);
        var codec = new Letters();
        var options = new GenerationOptions { Temperature = 1, MaxNewTokens = 40, Seed = 5 };
        var tokens = generator.GenerateTokens(Prompt, options).ToList();
        string text = codec.Decode(tokens);
        Assert.Equal(40, text.Length);

        long stopToken = tokens[10];
        int firstStop = tokens.IndexOf(stopToken);
        Assert.Equal(tokens.Take(firstStop), generator.GenerateTokens(Prompt, options with { StopTokens = [stopToken] }));

        string stop = text.Substring(12, 3);
        var pieces = generator.GenerateText("hello", codec, options with { StopSequences = ["zzzzzzzz", stop] }).ToList();
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], string.Concat(pieces));
        var streamed = generator.GenerateText("hello", codec, options).ToList();
        Assert.Equal(text, string.Concat(streamed));
        Assert.Equal(40, streamed.Count);   // without stop texts, a piece per token as it is made
    }

    [Fact]
    public void Generation_stops_at_the_context_and_bad_requests_are_typed_errors()
    {
        using var model = LetterModel(94);
        var generator = new CausalLMGenerator(model);
        Assert.Equal(64 - Prompt.Length, generator.GenerateTokens(Prompt, new() { MaxNewTokens = 100, Temperature = 0 }).Count());
        Assert.Throws<ArgumentException>(() => generator.GenerateTokens([]));
        Assert.Contains("MaxLength 64", Assert.Throws<ArgumentException>(() => generator.GenerateTokens(new long[65])).Message);
        Assert.Contains("found 26", Assert.Throws<ArgumentException>(() => generator.GenerateTokens([1, 26])).Message);
        Assert.Equal("TopP", Assert.Throws<ArgumentOutOfRangeException>(() => generator.GenerateTokens(Prompt, new() { TopP = 0 })).ParamName);
        Assert.Equal("Temperature", Assert.Throws<ArgumentOutOfRangeException>(() => generator.GenerateTokens(Prompt, new() { Temperature = -1 })).ParamName);
        Assert.Equal("RepetitionPenalty", Assert.Throws<ArgumentOutOfRangeException>(() => generator.GenerateTokens(Prompt, new() { RepetitionPenalty = 0 })).ParamName);
        Assert.Equal("MaxNewTokens", Assert.Throws<ArgumentOutOfRangeException>(() => generator.GenerateTokens(Prompt, new() { MaxNewTokens = -1 })).ParamName);
        Assert.Empty(generator.GenerateTokens(Prompt, new() { MaxNewTokens = 0 }));
    }

    [Fact]
    public void Byte_tokenizer_round_trips_text()
    {
        var bytes = new ByteTokenizer();
        string text = "Grüße, 世界!";
        var ids = bytes.Encode(text);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), ids.Count);
        Assert.Equal(text, bytes.Decode([.. ids, ByteTokenizer.EndOfText]));
        Assert.Throws<ArgumentOutOfRangeException>(() => bytes.Decode([257]));
    }
}
