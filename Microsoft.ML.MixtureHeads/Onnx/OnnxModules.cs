namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>Parameter-free ONNX building blocks the layers share: activations and attention.</summary>
public static partial class OnnxModules
{
    /// <summary>Exact GELU, as torch computes it: x * 0.5 * (1 + erf(x / √2)).</summary>
    public static string Gelu(this OnnxGraphBuilder graph, string x) =>
        graph.Mul(
            graph.Mul(x, graph.Scalar(0.5f)),
            graph.Add(graph.Scalar(1f), graph.Erf(graph.Mul(x, graph.Scalar((float)(1 / Math.Sqrt(2)))))));

    /// <summary>SiLU (swish): x * sigmoid(x).</summary>
    public static string Silu(this OnnxGraphBuilder graph, string x) => graph.Mul(x, graph.Sigmoid(x));
}
