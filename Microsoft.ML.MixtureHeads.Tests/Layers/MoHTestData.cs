using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Random MoH layers and inputs for tests, with routing far enough from top-k ties to be compared.</summary>
internal static class MoHTestData
{
    /// <summary>Smallest gap we accept between the K-th and (K+1)-th routing probability of any token.</summary>
    public const double MinimumTopKGap = 1e-4;

    /// <summary>
    /// A layer with spread-out weights (N(0, 1/fan_in), biases N(0, 0.1), so routing is decisive) and an input
    /// [B, N, C] whose routing has no near tie; reseeds until it finds one.
    /// </summary>
    public static (MoHAttention Layer, Tensor X) Generate(MoHAttentionOptions options, long batch, long tokens, int seed)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            manual_seed(seed + 7919 * attempt);
            var layer = new MoHAttention(options);
            Randomise(layer);
            var x = randn(batch, tokens, options.Dim);
            if (TopKGap(layer, x) > MinimumTopKGap) return (layer, x);
        }
        throw new InvalidOperationException($"No tie-free routing found for seed {seed}.");
    }

    public static void Randomise(MoHAttention layer)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in layer.named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.normal_(0, 0.1);
            else parameter.normal_(0, 1.0 / Math.Sqrt(parameter.shape[1]));
        }
    }

    /// <summary>[B, N] bool with about a quarter padding; token 0 of every sequence is real, so no query row is fully masked.</summary>
    public static Tensor KeyPadding(long batch, long tokens)
    {
        var real = rand(batch, tokens) > 0.25;
        real[.., 0] = true;
        return real;
    }

    /// <summary>
    /// The smallest gap, over tokens, between the K-th and (K+1)-th routing probability, computed here from the
    /// weights (not through the layer's routing code); +inf when the layer has no top-k choice to make.
    /// </summary>
    public static double TopKGap(MoHAttention layer, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var o = layer.Options;
        int routed = o.RoutedHeads, k = o.RoutedTopK;
        if (o.Routing == HeadRouting.Dense || k == 0 || k == routed) return double.PositiveInfinity;
        var tokens = x.reshape(-1, o.Dim);
        Tensor probabilities;
        if (o.Routing == HeadRouting.Learned)
        {
            probabilities = softmax(F.linear(tokens, layer.wg!.weight!), 1);
        }
        else
        {
            int d = o.ResolvedHeadDim;
            var queries = layer.qkv.forward(tokens)[.., ..(o.Heads * d)].view(-1, o.Heads, d)[.., o.SharedHeads..];   // [T, E, D]
            var norms = queries.pow(2).sum(-1).sqrt();
            probabilities = softmax(norms / norms.std(1, keepdim: true), 1);
        }
        var sorted = probabilities.sort(1, descending: true).Values;
        return (sorted[.., k - 1] - sorted[.., k]).min().item<float>();
    }
}
