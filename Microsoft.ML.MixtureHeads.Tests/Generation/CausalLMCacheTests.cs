using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Models;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Generation;

/// <summary>Incremental decoding with the per-layer key/value cache equals recomputing the whole sequence, token for token.</summary>
public sealed class CausalLMCacheTests
{
    public static TheoryData<string> Cases() => new(["dense", "learned MoH, MH-MoE h=2", "parameter-free, SMoE", "BitNet, MH-MoE h=3"]);

    internal static CausalLMConfig ConfigOf(string name)
    {
        var tiny = CausalLMTests.Tiny with { MaxLength = 24, TieEmbeddings = false };   // tied random weights just repeat the last token
        return name switch
        {
            "dense" => tiny.Dense(),
            "learned MoH, MH-MoE h=2" => tiny with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2, experts: 4) with { Dim = 0 } },
            "parameter-free, SMoE" => tiny with
            {
                Routing = HeadRouting.ParameterFree, FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.SparseMoE(48, 128, experts: 4) with { Dim = 0 },
            },
            "BitNet, MH-MoE h=3" => tiny with
            {
                Linear = LinearKind.BitLinear, FeedForward = FeedForwardKind.MultiHeadMoE,
                MoE = MoEPresets.MultiHead(48, 128, heads: 3, experts: 4) with { Dim = 0, ExpertLinear = LinearKind.BitLinear },
            },
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    /// <summary>A model with weights large enough that every token and routing choice shows in the logits.</summary>
    internal static MoHCausalLM Model(CausalLMConfig config, int seed)
    {
        manual_seed(seed);
        var model = new MoHCausalLM(config);
        using (no_grad())
            foreach (var (_, parameter) in model.named_parameters())
                if (parameter.dim() >= 2) parameter.normal_(0, 1 / Math.Sqrt(parameter.shape[1]));
        using (no_grad()) model.tok_embeddings.weight.normal_(0, 1);
        model.eval();
        return model;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_fed_piece_by_piece_through_the_cache_equal_the_full_forward(string name)
    {
        using var scope = NewDisposeScope();
        using var model = Model(ConfigOf(name), seed: 81);
        var tokens = randint(0, 50, [2, 12], dtype: ScalarType.Int64);
        using var noGrad = no_grad();
        var full = model.forward(tokens).Output;                                              // [2, 12, V]
        using var cache = model.CreateCache();
        int start = 0;
        foreach (int length in new[] { 5, 1, 1, 3, 1, 1 })
        {
            var piece = model.forward(tokens[.., start..(start + length)], cache).Output;
            ParityAssert.Close($"{name}: positions {start}..{start + length - 1}", full[.., start..(start + length)], piece, Tolerance.Reduction);
            start += length;
            Assert.Equal(start, cache.Length);
        }
        cache.Clear();
        Assert.Equal(0, cache.Length);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Greedy_generation_with_the_cache_equals_full_recomputation(string name)
    {
        using var model = Model(ConfigOf(name), seed: 82);
        var generator = new CausalLMGenerator(model);
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 18 };
        long[] prompt = [3, 14, 15, 9, 26];
        var cached = generator.GenerateTokens(prompt, options).ToList();
        var recomputed = generator.GenerateTokens(prompt, options with { UseCache = false }).ToList();
        Assert.Equal(18, cached.Count);
        Assert.Equal(recomputed, cached);
        Assert.True(cached.Distinct().Count() > 2, $"a degenerate run: {string.Join(" ", cached)}");

        // Sampling too: the same seed draws the same tokens either way.
        var sampling = new GenerationOptions { Temperature = 1.2, TopK = 10, TopP = 0.95, MaxNewTokens = 18, Seed = 4 };
        Assert.Equal(generator.GenerateTokens(prompt, sampling with { UseCache = false }), generator.GenerateTokens(prompt, sampling));
    }
}
