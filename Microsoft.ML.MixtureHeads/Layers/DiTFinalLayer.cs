using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// DiT's <c>FinalLayer</c>: shift, scale = adaLN_modulation(c); x = linear(norm_final(x) * (1 + scale) + shift), the norm
/// a LayerNorm without gain or bias (eps 1e-6). [B, N, D] -> [B, N, patch pixels].
/// </summary>
public sealed class DiTFinalLayer : nn.Module<Tensor, Tensor, Tensor>
{
    /// <summary>The non-affine LayerNorm.</summary>
    public readonly ExportableLayerNorm norm_final;

    /// <summary>D -> p * p * C.</summary>
    public readonly ExportableLinear linear;

    /// <summary>Condition -> shift and scale.</summary>
    public readonly AdaLNModulation adaLN_modulation;

    /// <summary>Creates the layer from width <paramref name="dim"/> to <paramref name="patchPixels"/> values per token.</summary>
    public DiTFinalLayer(int dim, int patchPixels) : base(nameof(DiTFinalLayer))
    {
        norm_final = new ExportableLayerNorm(dim, eps: 1e-6, elementwiseAffine: false);
        linear = new ExportableLinear(dim, patchPixels);
        adaLN_modulation = new AdaLNModulation(dim, dim, chunks: 2);
        RegisterComponents();
    }

    /// <summary>The layer on tokens <paramref name="x"/> [B, N, D] with condition <paramref name="c"/> [B, D].</summary>
    public override Tensor forward(Tensor x, Tensor c)
    {
        var m = adaLN_modulation.call(c).chunk(2, 1);                            // shift, scale: [B, D] each
        var h = norm_final.call(x);
        h = h.addcmul(h, m[1].unsqueeze(1), Scalars.Of(1L)).Plus(m[0].unsqueeze(1));
        return linear.call(h);                                                  // [B, N, p*p*C]
    }

    /// <summary>Emits the layer; <paramref name="prefix"/> is its state-dict path.</summary>
    public string EmitOnnx(OnnxGraphBuilder graph, string x, string c, string prefix)
    {
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        long dim = norm_final.Dim;
        var m = graph.Split(adaLN_modulation.EmitOnnx(graph, c, Name("adaLN_modulation")), 1, [dim, dim]);
        string h = norm_final.EmitOnnx(graph, x, Name("norm_final"));
        h = graph.Add(graph.Mul(h, graph.Add(graph.Scalar(1f), graph.Unsqueeze(m[1], 1))), graph.Unsqueeze(m[0], 1));
        return linear.EmitOnnx(graph, h, Name("linear"));
    }
}
