namespace Microsoft.ML.MixtureHeads.Onnx;

// Products, convolution and normalisation.
public sealed partial class OnnxGraphBuilder
{
    /// <summary>numpy matmul: batched, broadcasting over leading dims.</summary>
    public string MatMul(string a, string b) => Apply("MatMul", [a, b]);

    /// <summary>alpha * A' * B' + beta * C for 2-D A and B, where ' optionally transposes.</summary>
    public string Gemm(string a, string b, string? c = null, float alpha = 1, float beta = 1, bool transA = false, bool transB = false) =>
        Apply("Gemm", c is null ? [a, b] : [a, b, c],
            OnnxAttribute.Float("alpha", alpha), OnnxAttribute.Float("beta", beta),
            OnnxAttribute.Int("transA", transA ? 1 : 0), OnnxAttribute.Int("transB", transB ? 1 : 0));

    /// <summary>Einstein summation, e.g. "bhnd,bhmd->bhnm".</summary>
    public string Einsum(string equation, params string[] inputs) => Apply("Einsum", inputs, OnnxAttribute.String("equation", equation));

    /// <summary>N-d convolution of [B, C, ...] input with [out, C / group, ...] weight.</summary>
    /// <param name="x">The input.</param>
    /// <param name="weight">The kernel.</param>
    /// <param name="bias">Per output channel, or null.</param>
    /// <param name="kernelShape">Spatial kernel size.</param>
    /// <param name="strides">Stride per spatial dim.</param>
    /// <param name="pads">Begin pads for every spatial dim, then end pads.</param>
    /// <param name="dilations">Dilation per spatial dim.</param>
    /// <param name="group">Number of channel groups.</param>
    public string Conv(string x, string weight, string? bias, long[] kernelShape, long[] strides, long[] pads, long[] dilations, long group = 1) =>
        Apply("Conv", bias is null ? [x, weight] : [x, weight, bias],
            OnnxAttribute.Ints("kernel_shape", kernelShape), OnnxAttribute.Ints("strides", strides), OnnxAttribute.Ints("pads", pads),
            OnnxAttribute.Ints("dilations", dilations), OnnxAttribute.Int("group", group));

    /// <summary>Layer normalisation over the dims from <paramref name="axis"/> on (opset 17), then * scale + bias.</summary>
    public string LayerNormalization(string x, string scale, string? bias, long axis = -1, float epsilon = 1e-5f) =>
        Apply("LayerNormalization", bias is null ? [x, scale] : [x, scale, bias],
            OnnxAttribute.Int("axis", axis), OnnxAttribute.Float("epsilon", epsilon));

    /// <summary>Inference-mode batch normalisation of [B, C, ...]: (x - mean) / sqrt(var + epsilon) * scale + bias, per channel.</summary>
    public string BatchNormalization(string x, string scale, string bias, string mean, string variance, float epsilon = 1e-5f) =>
        Apply("BatchNormalization", [x, scale, bias, mean, variance], OnnxAttribute.Float("epsilon", epsilon));

    /// <summary>Max pooling of [B, C, H, W] with a square window.</summary>
    /// <param name="x">The input.</param>
    /// <param name="kernel">Window side.</param>
    /// <param name="stride">Stride in both dims.</param>
    /// <param name="padding">Padding on every side (padded cells never win).</param>
    public string MaxPool(string x, long kernel, long stride, long padding) =>
        Apply("MaxPool", [x], OnnxAttribute.Ints("kernel_shape", [kernel, kernel]), OnnxAttribute.Ints("strides", [stride, stride]),
            OnnxAttribute.Ints("pads", [padding, padding, padding, padding]));
}
