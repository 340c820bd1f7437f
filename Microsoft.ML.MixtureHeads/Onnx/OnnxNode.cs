namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>One graph node: an operator applied to named values, producing named values.</summary>
/// <param name="OpType">The ONNX operator, e.g. "MatMul".</param>
/// <param name="Name">A unique node name.</param>
/// <param name="Inputs">Input value names; "" marks an omitted optional input.</param>
/// <param name="Outputs">Output value names.</param>
/// <param name="Attributes">The node's attributes.</param>
/// <param name="Domain">The operator set domain; "" is the default ONNX domain.</param>
public sealed record OnnxNode(
    string OpType, string Name, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, IReadOnlyList<OnnxAttribute> Attributes, string Domain = "")
{
    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    /// <inheritdoc />
    public override string ToString() =>
        $"{string.Join(", ", Outputs)} = {OpType}({string.Join(", ", Inputs)}){(Attributes.Count > 0 ? " {" + string.Join(", ", Attributes) + "}" : "")}";
}
