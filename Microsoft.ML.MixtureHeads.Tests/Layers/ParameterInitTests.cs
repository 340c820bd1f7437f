using Microsoft.ML.MixtureHeads.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

public sealed class ParameterInitTests
{
    [Fact]
    public void Truncated_normal_stays_in_bounds_with_the_truncated_spread()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var t = ParameterInit.TruncatedNormal_(empty(200, 500), std: 1.0, a: -0.5, b: 0.5);
        Assert.True(t.ge(-0.5).logical_and(t.le(0.5)).all().item<bool>());
        // Var of N(0,1) truncated to [-c, c]: 1 - 2 c phi(c) / (2 Phi(c) - 1); c = 0.5 gives std 0.2838.
        Assert.InRange(t.std().item<float>(), 0.280, 0.288);
        Assert.InRange(t.mean().item<float>(), -0.005, 0.005);
    }

    [Fact]
    public void Truncated_normal_with_wide_bounds_is_the_plain_normal()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var t = ParameterInit.TruncatedNormal_(empty(300, 300), std: 0.02);
        Assert.InRange(t.std().item<float>(), 0.0198, 0.0202);
        Assert.True(t.unique().output.shape[0] > 80000, "values must be drawn, not a constant fill");
    }

    [Fact]
    public void Bounds_that_keep_almost_nothing_are_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => ParameterInit.TruncatedNormal_(empty(3), std: 0.02, a: 1, b: 2));
        Assert.Throws<ArgumentException>(() => ParameterInit.TruncatedNormal_(empty(3), std: 0));
    }
}
