using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// The weights of a Hugging Face BERT exported to ONNX by PyTorch, under their Hugging Face names. The exporter keeps
/// most parameters under their names but stores linear weights as anonymous MatMul initializers (e.g. "927"),
/// transposed ([in, out]); their names come from the graph: MatMul(x, W) feeds Add(., P.bias), so W is P.weight
/// transposed.
/// </summary>
internal static class BertOnnxWeights
{
    /// <summary>Every named parameter of <paramref name="model"/> plus each linear weight found through the graph, as [out, in].</summary>
    /// <exception cref="InvalidDataException">A MatMul weight has no named bias after it, or its name is also a stored initializer.</exception>
    public static Dictionary<string, Tensor> Read(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var initializer in model.Initializers)
            if (initializer.Name.Contains('.', StringComparison.Ordinal) && initializer.ElementType == OnnxElementType.Float)
                weights[initializer.Name] = initializer.ToTensor();

        var consumers = model.Nodes.SelectMany(n => n.Inputs.Select(input => (input, node: n)))
            .ToLookup(p => p.input, p => p.node, StringComparer.Ordinal);
        foreach (var matMul in model.Nodes.Where(n => n.OpType == "MatMul"))
        {
            if (matMul.Inputs.Count != 2 || model.FindInitializer(matMul.Inputs[1]) is not { Dims.Count: 2 } weight) continue;
            var add = consumers[matMul.Outputs[0]].SingleOrDefault(n => n.OpType == "Add");
            string? bias = add?.Inputs.FirstOrDefault(i => i != matMul.Outputs[0] && i.EndsWith(".bias", StringComparison.Ordinal));
            if (bias is null || !weights.TryGetValue(bias, out var biasValue))
                throw new InvalidDataException($"The MatMul weight '{weight.Name}' [{string.Join(", ", weight.Dims)}] feeds no Add with a named bias: its parameter name cannot be found.");
            string name = bias[..^".bias".Length] + ".weight";
            if (biasValue.shape[0] != weight.Dims[1])
                throw new InvalidDataException($"The MatMul weight '{weight.Name}' has {weight.Dims[1]} outputs but its bias '{bias}' has {biasValue.shape[0]}.");
            if (!weights.TryAdd(name, weight.ToTensor().t().contiguous()))
                throw new InvalidDataException($"The ONNX model holds '{name}' twice: as an initializer and as the MatMul weight '{weight.Name}'.");
        }
        return weights;
    }
}
