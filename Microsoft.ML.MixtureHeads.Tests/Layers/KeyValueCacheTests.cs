using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Incremental decoding with a key/value cache equals recomputing the whole causal sequence.</summary>
public sealed class KeyValueCacheTests
{
    private static readonly MoHAttentionOptions Causal = new()
    {
        Dim = 32, Heads = 4, SharedHeads = 1, RoutedTopK = 2, Routing = HeadRouting.Learned, Causal = true,
    };

    public static TheoryData<string> Cases() => new(["learned, rotary", "dense, rotary", "parameter-free", "learned, rotary, head skipping on"]);

    private static MoHAttentionOptions OptionsOf(string name) => name switch
    {
        "dense, rotary" => new MoHAttentionOptions { Dim = 32, Heads = 4, Causal = true },
        "parameter-free" => Causal with { Routing = HeadRouting.ParameterFree, SharedHeads = 1, RoutedTopK = 2 },
        _ => Causal,
    };

    /// <summary>The sequence fed in pieces of these lengths.</summary>
    private static readonly int[] Pieces = [4, 1, 1, 3];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Attention_fed_piece_by_piece_equals_the_full_sequence(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(61);
        var layer = new MoHAttention(OptionsOf(name)) { SkipInactiveHeads = name.Contains("skipping") };
        layer.eval();
        var rotary = name.Contains("rotary") ? new RotaryEmbedding(8, 16) : null;
        var x = randn(2, Pieces.Sum(), 32);
        using var noGrad = no_grad();
        var full = layer.forward(new AttentionInput(x, Rotary: rotary));

        using var cache = new KeyValueCache();
        var outputs = new List<Tensor>();
        var gates = new List<Tensor>();
        int start = 0;
        foreach (int length in Pieces)
        {
            var piece = layer.forward(new AttentionInput(x.narrow(1, start, length), Rotary: rotary, Cache: cache));
            outputs.Add(piece.Output);
            gates.Add(piece.Gates);
            start += length;
            Assert.Equal(start, cache.Length);
        }
        ParityAssert.Close($"{name}: outputs", full.Output, cat(outputs, 1), Tolerance.Fp32);
        ParityAssert.Close($"{name}: gates", full.Gates, cat(gates, 1), Tolerance.Fp32);
    }

    [Fact]
    public void Left_padding_in_the_cache_hides_the_same_keys_as_in_the_full_sequence()
    {
        using var scope = NewDisposeScope();
        manual_seed(62);
        var layer = new MoHAttention(Causal);
        layer.eval();
        var x = randn(2, 7, 32);
        var mask = ones(2, 7, ScalarType.Bool);
        mask[1, TensorIndex.Slice(0, 3)] = tensor(false);                 // row 1 starts with 3 padding tokens
        using var noGrad = no_grad();
        var full = layer.forward(new AttentionInput(x, mask)).Output;

        using var cache = new KeyValueCache();
        var first = layer.forward(new AttentionInput(x.narrow(1, 0, 5), mask.narrow(1, 0, 5), Cache: cache)).Output;
        var rest = layer.forward(new AttentionInput(x.narrow(1, 5, 2), Cache: cache)).Output;   // new tokens: all real
        ParityAssert.Close("real positions", full[1, TensorIndex.Slice(3)], cat([first, rest], 1)[1, TensorIndex.Slice(3)], Tolerance.Fp32);
        ParityAssert.Close("row without padding", full[0], cat([first, rest], 1)[0], Tolerance.Fp32);
    }

    [Fact]
    public void A_block_stack_with_one_cache_per_block_equals_the_full_sequence()
    {
        using var scope = NewDisposeScope();
        manual_seed(63);
        var config = new TextEncoderConfig
        {
            Dim = 32, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, FeedForward = FeedForwardKind.MultiHeadMoE,
            MoE = new MultiHeadMoEOptions { Heads = 2, Experts = 4, TopK = 2, ExpertHidden = 16 },
        };
        var blocks = BlockStack.Create(config, useRmsNorm: true, causal: true);
        blocks.eval();
        var rotary = new RotaryEmbedding(8, 16);
        var x = randn(1, 6, 32);
        using var noGrad = no_grad();
        var (full, _, _) = BlockStack.Forward(blocks, new AttentionInput(x, Rotary: rotary));

        var caches = Enumerable.Range(0, 2).Select(_ => new KeyValueCache()).ToList();
        var steps = Enumerable.Range(0, 6).Select(i => BlockStack.Forward(blocks, new AttentionInput(x.narrow(1, i, 1), Rotary: rotary), caches: caches).X).ToList();
        ParityAssert.Close("token by token", full, cat(steps, 1), Tolerance.Fp32);
        foreach (var cache in caches) cache.Dispose();
    }

    [Fact]
    public void A_cache_of_another_batch_or_a_rotary_table_too_short_is_a_typed_error()
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(Causal);
        layer.eval();
        using var cache = new KeyValueCache();
        using var noGrad = no_grad();
        layer.forward(new AttentionInput(randn(2, 3, 32), Cache: cache));
        Assert.Contains("Cache", Assert.Throws<ArgumentException>(() => layer.forward(new AttentionInput(randn(1, 1, 32), Cache: cache))).Message);
        var rotary = new RotaryEmbedding(8, 4);
        Assert.Contains("positions", Assert.Throws<ArgumentException>(() => layer.forward(new AttentionInput(randn(2, 2, 32), Rotary: rotary, Cache: cache))).Message);
    }
}
