using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Root-mean-square norm: y = x / sqrt(mean(x^2) + eps) * weight, over the last dimension.</summary>
public sealed class RMSNorm : ExportableModule
{
    private readonly double _eps;

    /// <summary>The learned gain, initialised to ones. Shape [dim].</summary>
    public readonly Parameter weight;

    /// <summary>Creates the norm over a last dimension of size <paramref name="dim"/>.</summary>
    public RMSNorm(long dim, double eps = 1e-6) : base(nameof(RMSNorm))
    {
        if (dim < 1) throw new ArgumentException($"dim must be at least 1, got {dim}.", nameof(dim));
        if (!(eps >= 0)) throw new ArgumentException($"eps must be non-negative, got {eps}.", nameof(eps));
        _eps = eps;
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // x: [..., dim]
        if (x.dim() < 1 || x.shape[^1] != weight.shape[0])
            throw new ArgumentException($"RMSNorm expects input [..., {weight.shape[0]}], got [{string.Join(", ", x.shape)}].", nameof(x));
        return x * rsqrt(x.pow(Scalars.Of(2L)).mean([-1], keepdim: true).Plus(_eps)) * weight;
    }

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var gain = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight);
        var meanSquare = graph.ReduceMean(graph.Pow(input, graph.Scalar(2f)), [-1], keepDims: true);   // [..., 1]
        var inverseRms = graph.Reciprocal(graph.Sqrt(graph.Add(meanSquare, graph.Scalar((float)_eps))));
        return graph.Mul(graph.Mul(input, inverseRms), gain);
    }
}
