using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>MoHAttention behaviour that needs no reference: options, parameters, init, dropout, gates, bad input.</summary>
public sealed class MoHAttentionTests
{
    private static readonly MoHAttentionOptions Typical = new()
    {
        Dim = 32, Heads = 8, SharedHeads = 2, RoutedTopK = 3, Routing = HeadRouting.Learned,
    };

    public static TheoryData<string, MoHAttentionOptions> InvalidOptions => new()
    {
        { "Dim", Typical with { Dim = 0 } },
        { "Heads", Typical with { Heads = 0 } },
        { "HeadDim", Typical with { Dim = 30 } },
        { "HeadDim", Typical with { HeadDim = 0 } },
        { "AttentionDropout", Typical with { AttentionDropout = 1.0 } },
        { "ProjDropout", Typical with { ProjDropout = -0.1 } },
        { "SharedHeads", Typical with { SharedHeads = -1 } },
        { "SharedHeads", Typical with { SharedHeads = 9 } },
        { "RoutedTopK", Typical with { RoutedTopK = -1 } },
        { "RoutedTopK", Typical with { RoutedTopK = 7 } },
        { "RoutedTopK", Typical with { RoutedTopK = 0 } },                           // dense-weighted needs SharedHeads == Heads
        { "Routing", new MoHAttentionOptions { Dim = 32, Heads = 8, SharedHeads = 2 } },
        { "Routing", new MoHAttentionOptions { Dim = 32, Heads = 8, RoutedTopK = 2 } },
        { "Routing", Typical with { Routing = (HeadRouting)7 } },
        { "Linear", Typical with { Linear = (LinearKind)7 } },
        { "RoutedTopK", Typical with { Routing = HeadRouting.ParameterFree, RoutedTopK = 0 } },
        { "RoutedTopK", Typical with { Routing = HeadRouting.ParameterFree, RoutedTopK = 7 } },
        { "SharedHeads", Typical with { Routing = HeadRouting.ParameterFree, SharedHeads = 7, RoutedTopK = 1 } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_throw_naming_the_option(string option, MoHAttentionOptions options)
    {
        var error = Assert.Throws<ArgumentException>(() => new MoHAttention(options));
        Assert.Equal(option, error.ParamName);
        Assert.Contains($"MoHAttentionOptions.{option}", error.Message);
    }

    public static TheoryData<MoHAttentionOptions, string[]> ParameterSets => new()
    {
        { new MoHAttentionOptions { Dim = 32, Heads = 4 }, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"] },
        { Typical, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg.weight", "wg_0.weight", "wg_1.weight"] },
        { Typical with { SharedHeads = 0 }, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg.weight"] },
        { Typical with { SharedHeads = 1 }, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg.weight", "wg_0.weight"] },
        { Typical with { TwoStageRouting = false }, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg.weight", "wg_1.weight"] },
        { Typical with { SharedHeads = 8, RoutedTopK = 0 }, ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "wg_1.weight"] },
        { Typical with { Routing = HeadRouting.ParameterFree, QkvBias = false }, ["qkv.weight", "proj.weight", "proj.bias"] },
        { Typical with { Linear = LinearKind.BitLinear }, ["qkv.weight", "proj.weight", "wg.weight", "wg_0.weight", "wg_1.weight"] },
    };

    [Theory]
    [MemberData(nameof(ParameterSets))]
    public void Parameters_are_named_as_in_the_official_code(MoHAttentionOptions options, string[] expected)
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(options);
        Assert.Equal(expected.Order(), layer.state_dict().Keys.Order());
    }

    [Fact]
    public void Router_shapes_follow_the_head_split()
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(Typical with { HeadDim = 6 });
        Assert.Equal([3L * 8 * 6, 32], layer.qkv.parameters().First().shape);
        Assert.Equal([32L, 8 * 6], layer.proj.parameters().First().shape);
        Assert.Equal([6L, 32], layer.wg!.weight!.shape);
        Assert.Equal([2L, 32], layer.wg_0!.weight!.shape);
        Assert.Equal([2L, 32], layer.wg_1!.weight!.shape);
    }

    [Fact]
    public void Initialisation_is_truncated_normal_with_zero_biases()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var layer = new MoHAttention(new MoHAttentionOptions { Dim = 256, Heads = 8, SharedHeads = 2, RoutedTopK = 3, Routing = HeadRouting.Learned });
        foreach (var (name, parameter) in layer.named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                Assert.Equal(0f, parameter.abs().max().item<float>());
                continue;
            }
            // N(0, 0.02^2), drawn (not TorchSharp 0.107's constant fill of trunc_normal_): the std, a symmetric mean,
            // and the tails a normal has - 4.5% of the values beyond 2 std on each side, none beyond the 2.0 bound.
            double std = parameter.std().item<float>();
            Assert.InRange(std, 0.018, 0.022);
            Assert.InRange(parameter.mean().item<float>(), -0.002, 0.002);
            double beyondTwoStd = parameter.abs().gt(0.04).to(ScalarType.Float32).mean().item<float>();
            Assert.InRange(beyondTwoStd, 0.03, 0.065);
        }
    }

    [Fact]
    public void Balance_loss_exists_only_in_training_with_routed_heads()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 5, 32);
        var routed = new MoHAttention(Typical);
        routed.train();
        var loss = routed.forward(new AttentionInput(x)).BalanceLoss;
        Assert.NotNull(loss);
        Assert.Equal(0, loss.dim());
        // E^2 * mean_i(P_i f_i) = E * sum_i P_i f_i with f_i <= 1 and sum_i P_i = 1, so 0 < L_b <= E.
        Assert.InRange(loss.item<float>(), 1e-6, 6.0);
        routed.eval();
        Assert.Null(routed.forward(new AttentionInput(x)).BalanceLoss);

        foreach (var options in new[] { new MoHAttentionOptions { Dim = 32, Heads = 4 }, Typical with { SharedHeads = 8, RoutedTopK = 0 } })
        {
            var layer = new MoHAttention(options);
            layer.train();
            Assert.Null(layer.forward(new AttentionInput(x)).BalanceLoss);
        }
    }

    [Theory]
    [InlineData(HeadRouting.Learned)]
    [InlineData(HeadRouting.ParameterFree)]
    public void Each_token_uses_its_shared_heads_and_exactly_k_routed_heads(HeadRouting routing)
    {
        using var scope = NewDisposeScope();
        var (layer, x) = MoHTestData.Generate(Typical with { Routing = routing }, 3, 9, seed: 5);
        var gates = layer.forward(new AttentionInput(x)).Gates;                    // [B, N, H]
        Assert.Equal([3L, 9, 8], gates.shape);
        Assert.True(gates[.., .., ..2].gt(0).all().item<bool>());
        Assert.True(gates[.., .., 2..].ne(0).sum(-1).eq(3).all().item<bool>());
        if (routing == HeadRouting.ParameterFree)
            Assert.True(gates.eq(0).logical_or(gates.eq(1)).all().item<bool>(), "conversion-mode gates are binary");
        else // shared gates sum to h_s * alpha_1, routed gates to K * alpha_2, and alpha_1 + alpha_2 = 2.
            Assert.True((gates[.., .., ..2].sum(-1) / 2 + gates[.., .., 2..].sum(-1) / 3 - 2).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Dense_routing_gates_are_all_one()
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(new MoHAttentionOptions { Dim = 16, Heads = 4 });
        var gates = layer.forward(new AttentionInput(randn(2, 3, 16))).Gates;
        Assert.True(gates.eq(1).all().item<bool>());
    }

    [Theory]
    [InlineData(0.5, 0.0, false)]
    [InlineData(0.0, 0.5, false)]
    [InlineData(0.3, 0.3, true)]
    public void Dropout_changes_outputs_in_training_only(double attentionDropout, double projDropout, bool causalWithPadding)
    {
        using var scope = NewDisposeScope();
        var options = Typical with { Causal = causalWithPadding };
        var (layer, x) = MoHTestData.Generate(options with { AttentionDropout = attentionDropout, ProjDropout = projDropout }, 2, 7, seed: 9);
        var padding = causalWithPadding ? MoHTestData.KeyPadding(2, 7) : null;
        var plain = new MoHAttention(options);
        plain.load_state_dict(layer.state_dict());
        plain.eval();
        var expected = plain.forward(new AttentionInput(x, padding)).Output;

        layer.train();
        var first = layer.forward(new AttentionInput(x, padding)).Output;
        var second = layer.forward(new AttentionInput(x, padding)).Output;
        Assert.False(first.allclose(second), "two training passes should drop different elements");
        Assert.False(first.allclose(expected));

        layer.eval();
        Assert.True(layer.forward(new AttentionInput(x, padding)).Output.eq(expected).all().item<bool>(), "evaluation must not drop anything");
    }

    public static TheoryData<string, Func<AttentionInput>> BadInputs => new()
    {
        { "wrong C", () => new AttentionInput(randn(2, 5, 31)) },
        { "2-D input", () => new AttentionInput(randn(5, 32)) },
        { "integer input", () => new AttentionInput(ones(2, 5, 32, ScalarType.Int64)) },
        { "mask of wrong length", () => new AttentionInput(randn(2, 5, 32), ones(2, 4, ScalarType.Bool)) },
        { "mask of wrong batch", () => new AttentionInput(randn(2, 5, 32), ones(3, 5, ScalarType.Bool)) },
        { "float mask", () => new AttentionInput(randn(2, 5, 32), ones(2, 5)) },
        { "rotary too short", () => new AttentionInput(randn(2, 5, 32), null, new RotaryEmbedding(4, 4)) },
        { "rotary of other head dim", () => new AttentionInput(randn(2, 5, 32), null, new RotaryEmbedding(8, 16)) },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_throws_a_typed_exception_and_the_process_lives_on(string what, Func<AttentionInput> input)
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(Typical);
        foreach (bool skip in new[] { false, true })
        {
            layer.SkipInactiveHeads = skip;
            layer.eval();
            var error = Assert.Throws<ArgumentException>(() => layer.forward(input()));
            Assert.Equal("input", error.ParamName);
            Assert.False(string.IsNullOrEmpty(what));
        }
        Assert.Equal([2L, 5, 32], layer.forward(new AttentionInput(randn(2, 5, 32))).Output.shape);
    }
}
