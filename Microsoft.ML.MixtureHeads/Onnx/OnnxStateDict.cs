using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Onnx;

/// <summary>Moves trained weights from an ONNX model's initializers back into a TorchSharp module.</summary>
public static class OnnxStateDict
{
    /// <summary>
    /// Copies every <c>state_dict()</c> entry of <paramref name="module"/> (parameters and persistent buffers) from
    /// the initializer of the same name. Everything is checked before anything is copied, so a failure leaves the
    /// module untouched. Initializers the module does not name (constants, derived weights) are ignored.
    /// </summary>
    /// <exception cref="InvalidDataException">An entry has no initializer, or one of another element type or shape;
    /// the message names the parameter.</exception>
    public static void LoadInto(nn.Module module, OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(model);
        var entries = module.state_dict();
        var sources = new List<(Tensor Target, OnnxTensorData Source)>();
        foreach (var (name, target) in entries)
        {
            string expected = $"{target.dtype}[{string.Join(", ", target.shape)}]";
            var source = model.FindInitializer(name)
                ?? throw new InvalidDataException($"The ONNX model has no initializer for parameter '{name}' ({expected}).");
            if (OnnxTensorData.ScalarTypeOf(source.ElementType) != target.dtype || !source.Dims.SequenceEqual(target.shape))
                throw new InvalidDataException(
                    $"Parameter '{name}' is {expected} in the module but {source.ElementType}[{string.Join(", ", source.Dims)}] in the ONNX model.");
            sources.Add((target, source));
        }
        using var noGrad = no_grad();
        foreach (var (target, source) in sources)
        {
            using var value = source.ToTensor();
            target.copy_(value);
        }
    }
}
