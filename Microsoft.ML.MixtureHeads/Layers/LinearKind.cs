using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Which linear layer a projection uses.</summary>
public enum LinearKind
{
    /// <summary>Ordinary full-precision <c>nn.Linear</c>.</summary>
    Dense,

    /// <summary>BitNet b1.58 <see cref="BitLinear"/> (ternary weights, 8-bit activations, no bias).</summary>
    BitLinear,
}

/// <summary>Makes projections of a chosen <see cref="LinearKind"/>.</summary>
public static class Projections
{
    /// <summary>A projection from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>; BitLinear ignores <paramref name="bias"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(LinearKind kind, long inFeatures, long outFeatures, bool bias) => kind switch
    {
        LinearKind.Dense => nn.Linear(inFeatures, outFeatures, hasBias: bias),
        LinearKind.BitLinear => new BitLinear(inFeatures, outFeatures),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown linear kind."),
    };

    /// <summary>The [out, in] weight of a projection made by <see cref="Create"/>.</summary>
    internal static Parameter WeightOf(nn.Module<Tensor, Tensor> projection) => projection switch
    {
        Linear linear => linear.weight,
        BitLinear bit => bit.weight,
        _ => throw new ArgumentException($"{projection.GetType().Name} is not a projection made by Projections.Create.", nameof(projection)),
    };
}
