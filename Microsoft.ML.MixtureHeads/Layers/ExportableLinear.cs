using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// TorchSharp's <c>nn.Linear</c> made exportable: the same parameters (<c>weight</c> [out, in], optional <c>bias</c>)
/// with the same initialisation (taken from a fresh <c>nn.Linear</c>) and forward, plus its ONNX emission.
/// </summary>
public sealed class ExportableLinear : Projection
{
    /// <summary>The weight [out, in].</summary>
    public readonly Parameter weight;

    /// <summary>The bias [out], or null.</summary>
    public readonly Parameter? bias;

    /// <summary>A layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, initialised as <c>nn.Linear</c>.</summary>
    public ExportableLinear(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(ExportableLinear))
    {
        using var source = nn.Linear(inFeatures, outFeatures, hasBias);
        using (no_grad())
        {
            weight = new Parameter(source.weight.detach().clone());
            if (source.bias is { } b) bias = new Parameter(b.detach().clone());
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Parameter Weight => weight;

    /// <summary>Stays fp32 under mixed precision (routers, whose top-k a bf16 rounding would flip). Default false.</summary>
    internal bool KeepsFloat32 { get; init; }

    /// <summary>Input features.</summary>
    public long InFeatures => weight.shape[1];

    /// <summary>Output features.</summary>
    public long OutFeatures => weight.shape[0];

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 1 || x.shape[^1] != InFeatures)
            throw new ArgumentException($"Linear expects input [..., {InFeatures}], got [{string.Join(", ", x.shape)}].", nameof(x));
        return KeepsFloat32 ? nn.functional.linear(x, weight, bias) : MixedPrecision.Linear(x, weight, bias);   // [..., out]
    }

    /// <summary>y = x Wᵀ + b over the last dimension; W stays [out, in] and a Transpose feeds MatMul (folded at load).</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var w = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight);          // [out, in]
        var y = graph.MatMul(input, graph.Transpose(w, 1, 0));                                         // [..., out]
        return bias is null ? y : graph.Add(y, graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "bias"), bias));
    }
}
