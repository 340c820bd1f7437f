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
    public static Projection Create(LinearKind kind, long inFeatures, long outFeatures, bool bias) => kind switch
    {
        LinearKind.Dense => new ExportableLinear(inFeatures, outFeatures, bias),
        LinearKind.BitLinear => new BitLinear(inFeatures, outFeatures),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown linear kind."),
    };
}
