using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// BitNet b1.58 linear layer (no bias): weights quantised to {-1, 0, +1} x mean|W| (absmean, per matrix),
/// activations to 8 bits per token (absmax), trained through a straight-through estimator on latent fp32 weights.
/// </summary>
/// <remarks>specs/mhmoe.md section 4 and its pinned decisions. The quantisers are written exactly as the BitNet
/// FAQ code: <c>s = 1 / clamp(mean|W|, 1e-5)</c>, <c>round(W s).clamp(-1, 1) / s</c> and
/// <c>s = 127 / clamp(max|x|, 1e-5)</c>, <c>round(x s).clamp(-128, 127) / s</c>, round half to even (torch.round).
/// The optional RMSNorm inside (eps 1e-6, learned gain) is off by default, as in the MH-MoE code.</remarks>
public sealed class BitLinear : Projection
{
    private const double ScaleFloor = 1e-5;

    /// <summary>Latent full-precision weights. Shape [out, in].</summary>
    public readonly Parameter weight;

    /// <summary>The optional norm applied to the input before quantisation (null when off).</summary>
    public readonly RMSNorm? norm;

    /// <summary>Creates a BitLinear from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>.</summary>
    /// <param name="inFeatures">Input features (last dimension of the input).</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="innerNorm">Whether an RMSNorm normalises the input before activation quantisation.</param>
    public BitLinear(long inFeatures, long outFeatures, bool innerNorm = false) : base(nameof(BitLinear))
    {
        if (inFeatures < 1) throw new ArgumentException($"inFeatures must be at least 1, got {inFeatures}.", nameof(inFeatures));
        if (outFeatures < 1) throw new ArgumentException($"outFeatures must be at least 1, got {outFeatures}.", nameof(outFeatures));
        weight = new Parameter(empty(outFeatures, inFeatures));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        if (innerNorm) norm = new RMSNorm(inFeatures, eps: 1e-6);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Parameter Weight => weight;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // x: [..., in] -> [..., out]
        long inFeatures = weight.shape[1];
        if (x.dim() < 1 || x.shape[^1] != inFeatures)
            throw new ArgumentException($"BitLinear expects input [..., {inFeatures}], got [{string.Join(", ", x.shape)}].", nameof(x));
        if (norm is not null) x = norm.call(x);
        return nn.functional.linear(StraightThrough(x, QuantizeActivations), StraightThrough(weight, QuantizeWeights));
    }

    /// <summary>
    /// Emits this layer for inference into <paramref name="graph"/>; <paramref name="prefix"/> is its state-dict path.
    /// The ternary weights are computed now and stored as int8 <c>prefix.weight_ternary</c> divided by float
    /// <c>prefix.weight_scale</c> (1 / mean|W|, as the forward divides); activation quantisation runs in the graph (ONNX Round is half-to-even like
    /// torch.round). The latent weights are stored too, under <c>prefix.weight</c>, so the model can be rebuilt;
    /// the graph does not read them, so ONNX Runtime drops them at load (and logs a warning saying so).
    /// </summary>
    /// <returns>The name of the output value [..., out].</returns>
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
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
        var (levels, inverseScale) = TernaryWeights(weight);
        var ternary = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight_ternary"), levels.to_type(ScalarType.Int8));
        var wScale = graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight_scale"), inverseScale.reshape(1));
        var wq = graph.Div(graph.Cast(ternary, OnnxElementType.Float), wScale);                      // [out, in]
        return graph.MatMul(xq, graph.Transpose(wq, 1, 0));                                           // [..., out]
    }

    /// <summary>
    /// Ternary weights: round(W / mean|W|) clamped to [-1, 1], scaled back by mean|W|. The mean is taken over the
    /// last two dimensions, so a stack of matrices [..., out, in] is quantised matrix by matrix.
    /// </summary>
    public static Tensor QuantizeWeights(Tensor w)
    {
        var (levels, inverseScale) = TernaryWeights(w);
        return levels / inverseScale;
    }

    /// <summary>The two factors of <see cref="QuantizeWeights"/>: levels in {-1, 0, 1} (float) and the inverse scale
    /// s = 1 / clamp(mean|W|, 1e-5) per matrix, so that the quantised weights are levels / s.</summary>
    public static (Tensor Levels, Tensor InverseScale) TernaryWeights(Tensor w)
    {
        var inverseScale = Scalars.Of(1.0) / w.abs().mean([-2, -1], keepdim: true).clamp_min(Scalars.Of(ScaleFloor));
        return ((w * inverseScale).round().clamp(Scalars.Of(-1L), Scalars.Of(1L)), inverseScale);
    }

    /// <summary>8-bit activations per token (last dimension): round(x * 127 / max|x|) clamped to [-128, 127], scaled back.</summary>
    public static Tensor QuantizeActivations(Tensor x)
    {
        var scale = Scalars.Of(127.0) / x.abs().amax([-1], keepdim: true).clamp_min(Scalars.Of(ScaleFloor));
        return (x * scale).round().clamp(Scalars.Of(-128L), Scalars.Of(127L)) / scale;
    }

    /// <summary>Forward value <paramref name="quantize"/>(x), gradient identity (the straight-through estimator).</summary>
    internal static Tensor StraightThrough(Tensor x, Func<Tensor, Tensor> quantize) => x.Plus((quantize(x) - x).detach());
}
