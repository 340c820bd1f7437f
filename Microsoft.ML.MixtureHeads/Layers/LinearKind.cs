using Microsoft.ML.MixtureHeads.Onnx;
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

    /// <summary>Emits a projection made by <see cref="Create"/> (a dense <c>nn.Linear</c> or a <see cref="BitLinear"/>).</summary>
    /// <returns>The output value name [..., out].</returns>
    public static string EmitOnnx(OnnxGraphBuilder graph, nn.Module<Tensor, Tensor> projection, string input, string prefix) => projection switch
    {
        Linear linear => graph.Linear(linear, input, prefix),
        BitLinear bitLinear => bitLinear.EmitOnnx(graph, input, prefix),
        _ => throw new NotSupportedException($"No ONNX emission for projection {projection.GetType().Name}."),
    };
}
