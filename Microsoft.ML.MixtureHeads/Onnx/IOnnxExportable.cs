namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// A module whose evaluation-mode forward can be written into an ONNX graph, next to that forward so the two cannot
/// drift apart. Every trained parameter goes in as an initializer under its state-dict name below the prefix.
/// </summary>
/// <typeparam name="TInput">What the emission reads: the name of one graph value for tensor-to-tensor modules, a
/// record of value names for modules with several inputs (attention, blocks).</typeparam>
public interface IOnnxExportable<in TInput>
{
    /// <summary>Emits the forward on <paramref name="input"/>; <paramref name="prefix"/> is the module's state-dict
    /// path ("blocks.0.attn", "" for a root module).</summary>
    /// <returns>The name of the output value.</returns>
    string EmitOnnx(OnnxGraphBuilder graph, TInput input, string prefix);
}
