using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// BitNet b1.58 linear layer (no bias): weights quantised to {-1, 0, +1} x mean|W| (absmean, per tensor),
/// activations to 8 bits per token (absmax), trained through a straight-through estimator on latent fp32 weights.
/// </summary>
/// <remarks>specs/mhmoe.md section 4 and its pinned decisions: clamp 1e-5 on both scales, activations to
/// [-128, 127], round half to even, optional RMSNorm inside (off by default, as in the MH-MoE code).</remarks>
public sealed class BitLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>Latent full-precision weights. Shape [out, in].</summary>
    public readonly Parameter weight;

    /// <summary>The optional norm applied to the input before quantisation (null when off).</summary>
    public readonly RMSNorm? norm;

    /// <summary>Creates a BitLinear from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    public BitLinear(long inFeatures, long outFeatures, bool innerNorm = false) : base(nameof(BitLinear))
    {
        weight = new Parameter(empty(outFeatures, inFeatures));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        if (innerNorm) norm = new RMSNorm(inFeatures, eps: 1e-6);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // x: [..., in] -> [..., out]
        if (norm is not null) x = norm.forward(x);
        var xq = x + (QuantizeActivations(x) - x).detach();      // straight-through: forward quantised, gradient identity
        var wq = weight + (QuantizeWeights(weight) - weight).detach();
        return nn.functional.linear(xq, wq);
    }

    /// <summary>
    /// Emits this layer for inference into <paramref name="graph"/>; <paramref name="prefix"/> is its state-dict path.
    /// The ternary weights are computed now and stored as int8 <c>prefix.weight_ternary</c> times float
    /// <c>prefix.weight_scale</c>; activation quantisation runs in the graph (ONNX Round is half-to-even like
    /// torch.round). The latent weights are stored too, under <c>prefix.weight</c>, so the model can be rebuilt;
    /// the graph does not read them, so ONNX Runtime drops them at load (and logs a warning saying so).
    /// </summary>
    /// <returns>The name of the output value [..., out].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight);
        var x = norm is null ? input : norm.EmitOnnx(graph, input, OnnxGraphBuilder.ParameterName(prefix, "norm"));

        // activations: 127 / max|x| per token, clamped like QuantizeActivations
        var absMax = graph.ReduceMax(graph.Abs(x), [-1], keepDims: true);                         // [..., 1]
        var scale = graph.Div(graph.Scalar(127f), graph.Max(absMax, graph.Scalar(1e-5f)));
        var xq = graph.Div(graph.Clip(graph.Round(graph.Mul(x, scale)), -128f, 127f), scale);       // [..., in]

        // weights: ternary levels and their scale, computed from the latent weights now
        using var temporaries = NewDisposeScope();
        using var noGrad = no_grad();
        var (levels, levelScale) = TernaryWeights(weight);
        var ternary = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight_ternary"), levels.to_type(ScalarType.Int8));
        var wScale = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight_scale"), levelScale);
        var wq = graph.Mul(graph.Cast(ternary, OnnxElementType.Float), wScale);                      // [out, in]
        return graph.MatMul(xq, graph.Transpose(wq, 1, 0));                                           // [..., out]
    }

    /// <summary>Ternary weights: round(W / mean|W|) clamped to [-1, 1], scaled back by mean|W|.</summary>
    public static Tensor QuantizeWeights(Tensor w)
    {
        var (levels, scale) = TernaryWeights(w);
        return levels * scale;
    }

    /// <summary>The two factors of <see cref="QuantizeWeights"/>: levels in {-1, 0, 1} (float) and the scale mean|W| (scalar).</summary>
    public static (Tensor Levels, Tensor Scale) TernaryWeights(Tensor w)
    {
        var scale = w.abs().mean().clamp_min(1e-5);
        return ((w / scale).round().clamp(-1, 1), scale);
    }

    /// <summary>8-bit activations per token: round(x * 127 / max|x|) clamped to [-128, 127], scaled back.</summary>
    public static Tensor QuantizeActivations(Tensor x)
    {
        var scale = 127.0 / x.abs().amax([-1], keepdim: true).clamp_min(1e-5);
        return (x * scale).round().clamp(-128, 127) / scale;
    }
}
