using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// TorchSharp's <c>nn.LayerNorm</c> over the last dimension made exportable: optional gain <c>weight</c> (ones) and
/// <c>bias</c> (zeros), the same forward, and ONNX LayerNormalization (opset 17).
/// </summary>
public sealed class ExportableLayerNorm : ExportableModule
{
    /// <summary>The gain [dim], or null without elementwise affine.</summary>
    public readonly Parameter? weight;

    /// <summary>The bias [dim], or null.</summary>
    public readonly Parameter? bias;

    /// <summary>The normalised width.</summary>
    public long Dim { get; }

    /// <summary>Epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>A norm over a last dimension of <paramref name="dim"/>.</summary>
    /// <param name="dim">The normalised width.</param>
    /// <param name="eps">Epsilon added to the variance.</param>
    /// <param name="elementwiseAffine">Whether there is a learned gain (and bias).</param>
    /// <param name="hasBias">Whether an affine norm has a bias.</param>
    public ExportableLayerNorm(long dim, double eps = 1e-5, bool elementwiseAffine = true, bool hasBias = true) : base(nameof(ExportableLayerNorm))
    {
        if (dim < 1) throw new ArgumentException($"dim must be at least 1, got {dim}.", nameof(dim));
        if (!(eps >= 0)) throw new ArgumentException($"eps must be non-negative, got {eps}.", nameof(eps));
        (Dim, Eps) = (dim, eps);
        if (elementwiseAffine)
        {
            weight = new Parameter(ones(dim));
            if (hasBias) bias = new Parameter(zeros(dim));
        }
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 1 || x.shape[^1] != Dim)
            throw new ArgumentException($"LayerNorm expects input [..., {Dim}], got [{string.Join(", ", x.shape)}].", nameof(x));
        return nn.functional.layer_norm(x, [Dim], weight, bias, Eps);
    }

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var scale = weight is null
            ? graph.Constant(Enumerable.Repeat(1f, (int)Dim).ToArray(), Dim)
            : graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight);
        var shift = bias is null ? null : graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "bias"), bias);
        return graph.LayerNormalization(input, scale, shift, axis: -1, epsilon: (float)Eps);
    }
}
