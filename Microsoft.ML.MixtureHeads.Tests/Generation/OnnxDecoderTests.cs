using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Generation;

/// <summary>
/// The ONNX decoder graph with a key/value cache gives TorchSharp's logits for a prompt and then token by token
/// through the present -> past loop, and ONNX Runtime generation (scoring package) equals TorchSharp's token for token.
/// </summary>
public sealed class OnnxDecoderTests
{
    public static TheoryData<string> Cases() => CausalLMCacheTests.Cases();

    public static TheoryData<string> TinyNames() => new(ModelRegistry.List("moh_lm_tiny_*"));

    /// <summary>Runs the decoder graph on a prompt, then feeds one token at a time with the presents as the next pasts.</summary>
    private static void AssertStepsMatch(MoHCausalLM model, Tensor tokens, int promptLength, string what)
    {
        var config = model.Config;
        int heads = config.Heads, headDim = config.AttentionOptions.ResolvedHeadDim;
        using var noGrad = no_grad();
        var full = model.forward(tokens).Output;                                              // [B, T, V]
        using var session = new OnnxSession(CausalLMDecoderOnnx.Export(model));
        long batch = tokens.shape[0];
        var past = Enumerable.Range(0, config.Depth).SelectMany(i => new[]
        {
            (CausalLMDecoderGraph.PastKey(i), zeros(batch, heads, 0, headDim)), (CausalLMDecoderGraph.PastValue(i), zeros(batch, heads, 0, headDim)),
        }).ToArray();
        int start = 0;
        foreach (int length in new[] { promptLength }.Concat(Enumerable.Repeat(1, (int)tokens.shape[1] - promptLength)))
        {
            var outputs = session.Run([(CausalLMDecoderGraph.InputIds, tokens[.., start..(start + length)]), .. past]);
            ParityAssert.Close($"{what}: positions {start}..{start + length - 1}", full[.., start..(start + length)], outputs[CausalLMDecoderGraph.Logits], Tolerance.Reduction);
            start += length;
            past = Enumerable.Range(0, config.Depth).SelectMany(i => new[]
            {
                (CausalLMDecoderGraph.PastKey(i), outputs[CausalLMDecoderGraph.PresentKey(i)]), (CausalLMDecoderGraph.PastValue(i), outputs[CausalLMDecoderGraph.PresentValue(i)]),
            }).ToArray();
            Assert.Equal([batch, heads, start, headDim], past[^1].Item2.shape);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_logits_equal_TorchSharp_for_a_prompt_and_then_token_by_token(string name)
    {
        using var scope = NewDisposeScope();
        using var model = CausalLMCacheTests.Model(CausalLMCacheTests.ConfigOf(name), seed: 71);
        AssertStepsMatch(model, randint(0, 50, [2, 12], dtype: ScalarType.Int64), promptLength: 5, name);
    }

    [Theory]
    [MemberData(nameof(TinyNames))]
    public void Every_registered_tiny_LM_exports_a_decoder_that_matches_TorchSharp(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var config = ModelRegistry.Get<CausalLMConfig>(name);
        using var model = (MoHCausalLM)ModelRegistry.Create(config);
        model.eval();
        AssertStepsMatch(model, randint(0, config.VocabularySize, [1, 9], dtype: ScalarType.Int64), promptLength: 6, name);
    }

    /// <summary>With at most half the routed heads selected, the decoder graph skips heads (gathered query rows at
    /// positions P onwards) and still gives TorchSharp's logits through the present -> past loop.</summary>
    [Fact]
    public void A_decoder_graph_with_head_skipping_matches_TorchSharp_token_by_token()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var config = ModelRegistry.Get<CausalLMConfig>("moh_lm_tiny_75") with { Heads = 8, SharedHeads = 2, RoutedTopK = 2 };
        using var model = (MoHCausalLM)ModelRegistry.Create(config);
        model.eval();
        var attention = model.modules().OfType<MoHAttention>().ToList();
        foreach (var layer in attention) layer.SkipInactiveHeads = true;
        Assert.All(attention, layer => Assert.True(layer.SkipsHeadsInOnnx));
        AssertStepsMatch(model, randint(0, config.VocabularySize, [2, 10], dtype: ScalarType.Int64), promptLength: 6, "head skipping");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_Runtime_generation_equals_TorchSharp_token_for_token(string name)
    {
        using var model = CausalLMCacheTests.Model(CausalLMCacheTests.ConfigOf(name) with { MaxLength = 40 }, seed: 72);
        var torch = new CausalLMGenerator(model);
        using var onnx = new OnnxCausalLM(CausalLMDecoderOnnx.Export(model));
        Assert.Equal((model.Config.Depth, 50, 40), (onnx.Layers, onnx.VocabularySize, onnx.MaxLength));
        long[] prompt = [3, 14, 15, 9, 26, 5];
        // A stop token that comes: the 11th token of the run without stops (so generation ends at its first occurrence).
        var unstopped = new GenerationOptions { Temperature = 1.5, MaxNewTokens = 40, Seed = 13 };
        var free = torch.GenerateTokens(prompt, unstopped).ToList();
        GenerationOptions[] runs =
        [
            new() { Temperature = 0, MaxNewTokens = 20 },
            new() { Temperature = 1.0, MaxNewTokens = 20, Seed = 11 },
            new() { Temperature = 0.8, TopK = 8, TopP = 0.9, RepetitionPenalty = 1.3, MaxNewTokens = 20, Seed = 12 },
            unstopped with { StopTokens = [free[10]] },
        ];
        foreach (var options in runs)
        {
            var expected = torch.GenerateTokens(prompt, options).ToList();
            Assert.Equal(expected, onnx.GenerateTokens(prompt, options));
            Assert.Equal(expected, onnx.GenerateTokens(prompt, options with { UseCache = false }));
        }
        var greedy = torch.GenerateTokens(prompt, runs[0]).ToList();
        var sampled = torch.GenerateTokens(prompt, runs[1]).ToList();
        Assert.True(greedy.Distinct().Count() >= 2, $"a constant run: {string.Join(" ", greedy)}");
        Assert.True(sampled.Distinct().Count() > 4, $"a degenerate sampled run: {string.Join(" ", sampled)}");
        Assert.NotEqual(greedy, sampled);
        Assert.Equal(free.IndexOf(free[10]), torch.GenerateTokens(prompt, runs[3]).Count());
    }

    [Theory]
    [InlineData("bytes", ".zip")]
    [InlineData("cl100k", ".onnx")]
    public void Text_generation_from_a_saved_model_equals_TorchSharp_with_stop_sequences(string tokenizer, string extension)
    {
        ITokenCodec codec = tokenizer == "bytes"
            ? new ByteTokenizer()
            : CompactCl100kCodec.Build(["The cat sat on the mat and looked at the dog.", "A dog barked at the cat; the cat ran up a tree."]);
        int vocabulary = codec is CompactCl100kCodec compact ? compact.VocabularySize : ByteTokenizer.VocabularySize;
        long endOfText = codec is CompactCl100kCodec ? CompactCl100kCodec.EndOfText : ByteTokenizer.EndOfText;
        var config = CausalLMCacheTests.ConfigOf("learned MoH, MH-MoE h=2") with { VocabularySize = vocabulary, MaxLength = 64 };
        using var model = CausalLMCacheTests.Model(config, seed: 73);
        string path = Path.Combine(Path.GetTempPath(), $"lm-{Guid.NewGuid():N}{extension}");
        try
        {
            CausalLMDecoderOnnx.Save(model, codec, path);
            using var onnx = OnnxCausalLM.Load(path);
            Assert.IsType(codec.GetType(), onnx.Codec);
            Assert.Equal(endOfText, onnx.EndOfText);
            Assert.Equal(codec.Encode("The cat"), onnx.Codec!.Encode("The cat"));
            var options = new GenerationOptions { Temperature = 0.9, MaxNewTokens = 40, Seed = 3, StopTokens = [endOfText] };
            var expected = new CausalLMGenerator(model).GenerateText("The cat", codec, options).ToList();
            var pieces = onnx.GenerateText("The cat", options).ToList();
            Assert.Equal(string.Concat(expected), string.Concat(pieces));
            Assert.True(pieces.Count > 1, "the text did not stream");
            string text = string.Concat(pieces);
            int at = Enumerable.Range(text.Length / 2, text.Length - text.Length / 2 - 1).First(i => !text.Substring(i, 2).Contains('\uFFFD'));
            string stop = text.Substring(at, 2);
            var stopped = string.Concat(onnx.GenerateText("The cat", options with { StopSequences = [stop] }));
            Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Bad_prompts_options_files_and_exports_give_typed_errors()
    {
        using var model = CausalLMCacheTests.Model(CausalLMCacheTests.ConfigOf("dense"), seed: 74);
        using var onnx = new OnnxCausalLM(CausalLMDecoderOnnx.Export(model));
        Assert.Equal("prompt", Assert.Throws<ArgumentException>(() => onnx.GenerateTokens([])).ParamName);
        Assert.Contains("[0, 50)", Assert.Throws<ArgumentException>(() => onnx.GenerateTokens([3, 50])).Message);
        Assert.Contains("MaxLength 24", Assert.Throws<ArgumentException>(() => onnx.GenerateTokens(new long[25])).Message);
        Assert.Equal("TopP", Assert.Throws<ArgumentOutOfRangeException>(() => onnx.GenerateTokens([1], new() { TopP = 0 })).ParamName);
        Assert.Throws<InvalidOperationException>(() => onnx.GenerateText("no tokenizer"));
        Assert.Throws<FileNotFoundException>(() => OnnxCausalLM.Load(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx")));

        // A graph that is not a decoder (the uncached export) names what it lacks.
        var graph = new OnnxGraphBuilder();
        graph.Output(model.EmitOnnx(graph, "tokens"), "logits", OnnxElementType.Float, "batch", "sequence", 50);
        Assert.Contains("mixtureheads.lm.layers", Assert.Throws<InvalidDataException>(() => new OnnxCausalLM(graph.ToBytes())).Message);

        // Export misuse: a tokenizer whose ids do not fit, one the scoring package cannot rebuild, a chat client without a tokenizer.
        Assert.Equal("codec", Assert.Throws<ArgumentException>(() => CausalLMDecoderOnnx.Export(model, new ByteTokenizer())).ParamName);
        Assert.Throws<NotSupportedException>(() => CausalLMDecoderOnnx.Export(model, new UpperCase()));
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => new OnnxCausalLMChatClient(onnx)).ParamName);

        // A layer's ONNX cache serves one layer, and takes no key-padding mask.
        var attention = model.blocks[0].attn;
        var g = new OnnxGraphBuilder();
        string x = g.Input("x", OnnxElementType.Float, "batch", "tokens", 48);
        var cache = new OnnxKeyValueCache(g.Input("k", OnnxElementType.Float, "batch", 4, "past", 12), g.Input("v", OnnxElementType.Float, "batch", 4, "past", 12));
        attention.EmitOnnx(g, new OnnxSequenceInput(x, Cache: cache), "a");
        Assert.NotNull(cache.PresentKeys);
        Assert.Throws<InvalidOperationException>(() => attention.EmitOnnx(g, new OnnxSequenceInput(x, Cache: cache), "b"));
        string mask = g.Input("mask", OnnxElementType.Bool, "batch", "tokens");
        var fresh = new OnnxKeyValueCache(cache.PastKeys, cache.PastValues);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => attention.EmitOnnx(g, new OnnxSequenceInput(x, mask, Cache: fresh), "c")).ParamName);
    }

    private sealed class UpperCase : ITokenCodec
    {
        public IReadOnlyList<long> Encode(string text) => text.Select(c => (long)(c - 'A')).ToList();

        public string Decode(IEnumerable<long> ids) => string.Concat(ids.Select(id => (char)('A' + id)));
    }
}
