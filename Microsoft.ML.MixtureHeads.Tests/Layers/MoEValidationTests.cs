using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Bad options and bad input shapes surface as typed exceptions, and the process carries on.</summary>
public sealed class MoEValidationTests
{
    private static readonly MultiHeadMoEOptions Valid = new() { Dim = 12, Heads = 3, Experts = 6, TopK = 2, ExpertHidden = 8 };

    public static TheoryData<string, MultiHeadMoEOptions> BadOptions => new()
    {
        { "Dim", Valid with { Dim = 0 } },
        { "Heads", Valid with { Heads = 0 } },
        { "Heads", Valid with { Heads = 5 } },
        { "Experts", Valid with { Experts = 0 } },
        { "TopK", Valid with { TopK = 0 } },
        { "TopK", Valid with { TopK = 7 } },
        { "ExpertHidden", Valid with { ExpertHidden = 0 } },
        { "CapacityFactor", Valid with { CapacityFactor = 0 } },
        { "CapacityFactor", Valid with { CapacityFactor = double.NaN } },
        { "ExpertLinear", Valid with { ExpertLinear = (LinearKind)7 } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Invalid_options_name_the_option(string option, MultiHeadMoEOptions options)
    {
        var error = Assert.Throws<ArgumentException>(() => new MultiHeadMoE(options));
        Assert.Equal(option, error.ParamName);
    }

    public static TheoryData<long[]> BadShapes => new() { new long[] { 4, 11 }, new long[] { 2, 3, 13 }, new long[] { 12, 1 }, Array.Empty<long>() };

    [Theory]
    [MemberData(nameof(BadShapes))]
    public void Bad_input_shapes_throw_and_the_process_lives_on(long[] shape)
    {
        using var scope = NewDisposeScope();
        var bad = shape.Length == 0 ? tensor(1f) : randn(shape);
        var layer = new MultiHeadMoE(Valid);
        Assert.Throws<ArgumentException>(() => layer.forward(bad));
        Assert.Throws<ArgumentException>(() => new SwiGLU(12, 8).forward(bad));
        Assert.Throws<ArgumentException>(() => new GeluMlp(12, 8).forward(bad));
        Assert.Throws<ArgumentException>(() => new BitLinear(12, 8).forward(bad));
        Assert.Throws<ArgumentException>(() => new RMSNorm(12).forward(bad));

        var good = layer.forward(randn(2, 5, 12));
        Assert.Equal([2L, 5, 12], good.Output.shape);
    }

    [Fact]
    public void An_input_without_tokens_is_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new MultiHeadMoE(Valid).forward(randn(0, 12)));
    }

    [Fact]
    public void Integer_input_is_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new MultiHeadMoE(Valid).forward(ones(3, 12, dtype: int64)));
    }

    [Fact]
    public void Balance_loss_only_in_training_mode_and_load_sums_to_one()
    {
        using var scope = NewDisposeScope();
        var layer = new MultiHeadMoE(Valid);
        var x = randn(3, 7, 12);
        var training = layer.forward(x);
        Assert.NotNull(training.BalanceLoss);
        Assert.Empty(training.BalanceLoss!.shape);
        Assert.Equal([6L], training.ExpertLoad.shape);
        Assert.False(training.ExpertLoad.requires_grad);
        Assert.Equal(1.0, training.ExpertLoad.sum().item<float>(), 5);

        layer.eval();
        Assert.Null(layer.forward(x).BalanceLoss);
    }

    [Fact]
    public void Parameter_names_map_onto_the_official_layout()
    {
        using var scope = NewDisposeScope();
        var names = new MultiHeadMoE(Valid).state_dict().Keys.ToHashSet();
        string[] expected =
        [
            "multi_heads.weight", "multi_heads.bias", "out_proj.weight", "out_proj.bias", "wg.weight",
            .. Enumerable.Range(0, 6).SelectMany(e => new[] { $"experts.{e}.fc1.weight", $"experts.{e}.fc2.weight", $"experts.{e}.fc3.weight" }),
        ];
        Assert.True(names.SetEquals(expected), string.Join(", ", names.Order()));
        var plain = new MultiHeadMoE(Valid with { Heads = 1 }).state_dict().Keys;
        Assert.DoesNotContain("multi_heads.weight", plain);
        Assert.DoesNotContain("out_proj.weight", plain);
    }

    [Fact]
    public void Initialisation_follows_the_official_code()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var layer = new MultiHeadMoE(Valid with { Dim = 96 });
        // xavier_uniform bound = gain * sqrt(6 / (fan_in + fan_out)); merge bias zero.
        double headBound = Math.Sqrt(6.0 / 192) / Math.Sqrt(2), mergeBound = Math.Sqrt(6.0 / 192);
        Assert.InRange(layer.multi_heads!.weight.abs().max().item<float>(), 0.9 * headBound, headBound);
        Assert.InRange(layer.out_proj!.weight.abs().max().item<float>(), 0.9 * mergeBound, mergeBound);
        Assert.Equal(0f, layer.out_proj.bias!.abs().max().item<float>());
        Assert.NotEqual(0f, layer.multi_heads.bias!.abs().max().item<float>());
    }
}
