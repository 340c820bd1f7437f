using TorchSharp;
using TorchSharp.Modules;
using static Microsoft.ML.MixtureHeads.Onnx.OnnxGraphBuilder;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// ONNX emitters for TorchSharp's own modules, which cannot carry an <c>EmitOnnx</c> method themselves. Each stores
/// the module's parameters under their state-dict names (<c>prefix.weight</c>, <c>prefix.bias</c>) exactly as
/// TorchSharp holds them, so <see cref="OnnxStateDict.LoadInto"/> can rebuild the module, and returns the output value.
/// </summary>
public static partial class OnnxModules
{
    /// <summary>nn.Linear: y = x Wᵀ + b over the last dimension of any-rank input.</summary>
    /// <remarks>W stays [out, in] as TorchSharp stores it; a Transpose node feeds MatMul (ONNX Runtime folds it at load).</remarks>
    public static string Linear(this OnnxGraphBuilder graph, Linear linear, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var weight = graph.Initializer(ParameterName(prefix, "weight"), linear.weight);      // [out, in]
        var y = graph.MatMul(input, graph.Transpose(weight, 1, 0));                           // [..., out]
        return linear.bias is { } bias ? graph.Add(y, graph.Initializer(ParameterName(prefix, "bias"), bias)) : y;
    }

    /// <summary>nn.LayerNorm over its normalized_shape (ONNX LayerNormalization, opset 17).</summary>
    public static string LayerNorm(this OnnxGraphBuilder graph, LayerNorm norm, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        long[] shape = norm.normalized_shape;
        var scale = norm.elementwise_affine
            ? graph.Initializer(ParameterName(prefix, "weight"), norm.weight)
            : graph.Constant(Enumerable.Repeat(1f, (int)shape.Aggregate(1L, (n, d) => n * d)).ToArray(), shape);
        var bias = norm.bias is { } b ? graph.Initializer(ParameterName(prefix, "bias"), b) : null;
        return graph.LayerNormalization(input, scale, bias, axis: -shape.Length, epsilon: (float)norm.eps);
    }

    /// <summary>nn.Embedding: rows of the [vocab, dim] table picked by int64 <paramref name="indices"/>.</summary>
    public static string Embedding(this OnnxGraphBuilder graph, Embedding embedding, string indices, string prefix)
    {
        using var scope = graph.Scope(prefix);
        var table = graph.Initializer(ParameterName(prefix, "weight"), embedding.weight!);     // [vocab, dim]
        return graph.Gather(table, indices, axis: 0);                                          // [..., dim]
    }

    /// <summary>nn.Conv2d with zero padding (explicit, "same" or "valid") on [B, C, H, W] input.</summary>
    /// <exception cref="NotSupportedException">The module pads other than with zeros.</exception>
    public static string Conv2d(this OnnxGraphBuilder graph, Conv2d conv, string input, string prefix)
    {
        if (conv.padding_mode != PaddingModes.Zeros)
            throw new NotSupportedException($"Conv2d '{prefix}' uses padding mode {conv.padding_mode}; ONNX export supports zero padding only.");
        using var scope = graph.Scope(prefix);
        long[] kernel = conv.kernel_size, dilation = conv.dilation;
        long[] pads = conv.padding_type switch
        {
            Padding.Same => [.. SamePadBegin(kernel, dilation), .. SamePadEnd(kernel, dilation)],
            Padding.Valid => [0, 0, 0, 0],
            _ => [.. conv.padding!, .. conv.padding!],
        };
        var weight = graph.Initializer(ParameterName(prefix, "weight"), conv.weight);         // [out, in / groups, kH, kW]
        var bias = conv.bias is { } b ? graph.Initializer(ParameterName(prefix, "bias"), b) : null;
        return graph.Conv(input, weight, bias, kernel, conv.stride, pads, dilation, conv.groups);
    }

    /// <summary>Exact GELU, as torch computes it: x * 0.5 * (1 + erf(x / √2)).</summary>
    public static string Gelu(this OnnxGraphBuilder graph, string x) =>
        graph.Mul(
            graph.Mul(x, graph.Scalar(0.5f)),
            graph.Add(graph.Scalar(1f), graph.Erf(graph.Mul(x, graph.Scalar((float)(1 / Math.Sqrt(2)))))));

    /// <summary>SiLU (swish): x * sigmoid(x).</summary>
    public static string Silu(this OnnxGraphBuilder graph, string x) => graph.Mul(x, graph.Sigmoid(x));

    // PyTorch's padding="same" pads dilation * (kernel - 1) in total per dim, the odd one at the end.
    private static IEnumerable<long> SamePadBegin(long[] kernel, long[] dilation) => kernel.Select((k, i) => dilation[i] * (k - 1) / 2);

    private static IEnumerable<long> SamePadEnd(long[] kernel, long[] dilation) => kernel.Select((k, i) => dilation[i] * (k - 1) - dilation[i] * (k - 1) / 2);
}
