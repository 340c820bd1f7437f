using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Seeded MultiHeadMoE layers and inputs whose routing has no near-ties, for parity and dispatch tests.</summary>
internal static class MoECases
{
    /// <summary>Smallest gap between consecutive sorted router probabilities up to the (k+1)-th that we accept:
    /// far above fp32 noise, so libtorch and PyTorch pick the same experts in the same order.</summary>
    private const double MinimumGap = 2e-6;

    /// <summary>A layer and an input of <paramref name="shape"/>, from the first seed at or after <paramref name="seed"/> without routing near-ties.</summary>
    public static (MultiHeadMoE Layer, Tensor X) Create(MultiHeadMoEOptions options, long[] shape, int seed)
    {
        for (int attempt = seed; attempt < seed + 200; attempt++)
        {
            manual_seed(attempt);
            var layer = new MultiHeadMoE(options);
            var x = randn(shape);
            if (SmallestRoutingGap(layer, x) > MinimumGap) return (layer, x);
        }
        throw new InvalidOperationException($"No seed in [{seed}, {seed + 200}) routes without near-ties.");
    }

    /// <summary>Router probabilities written out from the spec (not through the layer's own routing code).</summary>
    public static Tensor RouterProbabilities(MultiHeadMoE layer, Tensor x)
    {
        using var noGrad = no_grad();
        var o = layer.Options;
        var tokens = x.reshape(-1, o.Dim);
        if (layer.multi_heads is not null) tokens = layer.multi_heads.forward(tokens);
        return softmax(F.linear(tokens.reshape(-1, o.SubTokenDim), layer.wg.weight), -1);
    }

    /// <summary>The smallest gap, over sub-tokens, between consecutive sorted router probabilities up to the (k+1)-th;
    /// +inf when there is no choice to make.</summary>
    public static double SmallestRoutingGap(MultiHeadMoE layer, Tensor x)
    {
        var sorted = RouterProbabilities(layer, x).sort(-1, descending: true).Values;
        long compared = Math.Min(layer.Options.TopK + 1, layer.Options.Experts);
        if (compared < 2) return double.PositiveInfinity;
        var gaps = sorted.narrow(1, 0, compared - 1) - sorted.narrow(1, 1, compared - 1);
        return gaps.min().item<float>();
    }
}
