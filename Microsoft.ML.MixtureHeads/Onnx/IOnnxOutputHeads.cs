namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>
/// The task's end of an exported graph: the outputs a deployed model produces from the network's raw output (a
/// classifier's probabilities and predicted index, ...) and the task's metadata (class names, ...).
/// </summary>
internal interface IOnnxOutputHeads
{
    /// <summary>Declares the graph outputs, computed from <paramref name="networkOutput"/>.</summary>
    void EmitOutputs(OnnxGraphBuilder graph, string networkOutput);

    /// <summary><c>metadata_props</c> entries the task adds (keys under <c>mixtureheads.</c>).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }
}
