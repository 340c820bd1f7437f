using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// Head skipping (inference) against the masked computation of the same layer: same output (Reduction tolerance, since
/// the projections are summed in a different order), same gates, across shapes, routing modes and masks. Both the
/// sparse-projection path (K/E &lt;= 1/2) and the dense-projection path (K/E &gt; 1/2) are covered.
/// </summary>
public sealed class HeadSkippingTests
{
    public sealed record SkipCase(string Name, MoHAttentionOptions Options, long Batch, long Tokens, bool KeyPadding = false, bool Rotary = false);

    private static MoHAttentionOptions Learned(int heads, int shared, int topK, int dim = 48) => new()
    {
        Dim = dim, Heads = heads, SharedHeads = shared, RoutedTopK = topK, Routing = HeadRouting.Learned,
    };

    public static TheoryData<SkipCase> Cases => new()
    {
        new SkipCase("typical, sparse projections", Learned(8, 2, 2, dim: 64), 3, 37),
        new SkipCase("K/E > 1/2, dense projections", Learned(8, 2, 4, dim: 64), 2, 29),
        new SkipCase("K = 1", Learned(6, 2, 1), 4, 23),
        new SkipCase("shared = 0", Learned(6, 0, 2), 3, 31),
        new SkipCase("shared = 0, K = 1, one token", Learned(4, 0, 1, dim: 16), 2, 1),
        new SkipCase("shared = 1", Learned(6, 1, 2), 2, 19),
        new SkipCase("causal", Learned(8, 2, 2, dim: 64) with { Causal = true }, 3, 41),
        new SkipCase("key padding", Learned(8, 2, 3, dim: 64), 3, 33, KeyPadding: true),
        new SkipCase("causal + key padding", Learned(6, 0, 3) with { Causal = true }, 3, 27, KeyPadding: true),
        new SkipCase("rotary, causal", Learned(8, 2, 2, dim: 64) with { Causal = true }, 2, 21, Rotary: true),
        new SkipCase("head_dim != C/H", Learned(4, 1, 1, dim: 40) with { HeadDim = 12 }, 2, 17),
        new SkipCase("no biases", Learned(6, 2, 2) with { QkvBias = false, ProjBias = false }, 2, 15),
        new SkipCase("ParameterFree", Learned(8, 2, 3, dim: 64) with { Routing = HeadRouting.ParameterFree }, 3, 35),
        new SkipCase("ParameterFree, causal + key padding, rotary",
            Learned(8, 4, 2, dim: 64) with { Routing = HeadRouting.ParameterFree, Causal = true }, 2, 30, KeyPadding: true, Rotary: true),
        new SkipCase("BitLinear projections", Learned(6, 2, 2) with { Linear = LinearKind.BitLinear }, 2, 25),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Skipping_equals_masking(SkipCase c)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (layer, x) = MoHTestData.Generate(c.Options, c.Batch, c.Tokens, seed: c.Name.Length);
        var padding = c.KeyPadding ? MoHTestData.KeyPadding(c.Batch, c.Tokens) : null;
        var rotary = c.Rotary ? new RotaryEmbedding(c.Options.ResolvedHeadDim, (int)c.Tokens) : null;
        layer.eval();
        var input = new AttentionInput(x, padding, rotary);
        var masked = layer.forward(input);
        layer.SkipInactiveHeads = true;
        var skipped = layer.forward(input);

        Assert.True(masked.Gates.eq(skipped.Gates).all().item<bool>(), $"{c.Name}: gates");
        Assert.True(masked.Gates.eq(0).any().item<bool>(), $"{c.Name}: some heads must be skipped for the test to mean anything");
        ParityAssert.Close($"{c.Name}: output", masked.Output, skipped.Output, Tolerance.Reduction);
        Assert.Null(skipped.BalanceLoss);
    }

    [Fact]
    public void Skipping_keeps_the_keys_and_values_of_unselected_tokens()
    {
        // The other reading of "skip a head" would also hide a token's key/value in the heads it did not select.
        // Build that variant by hand and check that skipping differs from it while it equals masking.
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (layer, x) = MoHTestData.Generate(Learned(6, 0, 2), 2, 16, seed: 3);
        layer.eval();
        var masked = layer.forward(new AttentionInput(x));
        layer.SkipInactiveHeads = true;
        var skipped = layer.forward(new AttentionInput(x)).Output;
        ParityAssert.Close("output", masked.Output, skipped, Tolerance.Reduction);

        var qkv = layer.qkv.forward(x).view(2, 16, 3, 6, 8).permute(2, 0, 3, 1, 4);                 // [3, B, H, N, D]
        var keysOfSelectingTokens = masked.Gates.transpose(1, 2).ne(0).unsqueeze(2);                 // [B, H, 1, N]
        var o = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], keysOfSelectingTokens).transpose(1, 2);
        var kvDropped = layer.proj.forward((o * masked.Gates.unsqueeze(-1)).reshape(2, 16, 48));
        Assert.False(kvDropped.allclose(skipped, rtol: 1e-3, atol: 1e-3), "skipping must not hide keys/values");
    }

    [Fact]
    public void Skipping_is_ignored_in_training()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = MoHTestData.Generate(Learned(8, 2, 2, dim: 64), 2, 13, seed: 8);
        layer.train();
        var masked = layer.forward(new AttentionInput(x));
        layer.SkipInactiveHeads = true;
        var stillMasked = layer.forward(new AttentionInput(x));
        Assert.True(masked.Output.eq(stillMasked.Output).all().item<bool>());
        Assert.NotNull(stillMasked.BalanceLoss);
    }
}
