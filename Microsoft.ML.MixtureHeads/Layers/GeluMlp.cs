using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>The ViT feed-forward network, named as timm's <c>Mlp</c>: <c>fc2(gelu(fc1(x)))</c> with exact (erf) GELU.</summary>
public sealed class GeluMlp : ExportableModule
{
    /// <summary>Input projection, dim -> hidden.</summary>
    public readonly Projection fc1;

    /// <summary>Output projection, hidden -> dim.</summary>
    public readonly Projection fc2;

    /// <summary>Input and output feature count.</summary>
    public long Dim { get; }

    /// <summary>Creates the MLP.</summary>
    /// <param name="dim">Input and output features.</param>
    /// <param name="hidden">Hidden features (timm: 4 x dim).</param>
    /// <param name="kind">Dense or BitLinear projections (BitLinear has no bias).</param>
    /// <param name="bias">Whether dense projections carry a bias (timm: yes).</param>
    public GeluMlp(long dim, long hidden, LinearKind kind = LinearKind.Dense, bool bias = true) : base(nameof(GeluMlp))
    {
        if (dim < 1) throw new ArgumentException($"dim must be at least 1, got {dim}.", nameof(dim));
        if (hidden < 1) throw new ArgumentException($"hidden must be at least 1, got {hidden}.", nameof(hidden));
        Dim = dim;
        fc1 = Projections.Create(kind, dim, hidden, bias);
        fc2 = Projections.Create(kind, hidden, dim, bias);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // x: [..., dim] -> [..., dim]
        if (x.dim() < 1 || x.shape[^1] != Dim)
            throw new ArgumentException($"GeluMlp expects input [..., {Dim}], got [{string.Join(", ", x.shape)}].", nameof(x));
        // Under a bf16 scope the hidden activations stay bf16 between the two products.
        return fc2.call(F.gelu(fc1.call(MixedPrecision.Lower(x, fc1, fc2)))).to(x.dtype);
    }

    /// <summary>Emits <c>fc2(gelu(fc1(x)))</c>; <paramref name="prefix"/> is this module's state-dict path.</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, string x, string prefix) =>
        fc2.EmitOnnx(graph, graph.Gelu(fc1.EmitOnnx(graph, x, OnnxGraphBuilder.ParameterName(prefix, "fc1"))), OnnxGraphBuilder.ParameterName(prefix, "fc2"));
}
