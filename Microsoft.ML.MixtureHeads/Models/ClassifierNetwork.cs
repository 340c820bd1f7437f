using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// What the trainers need from a classifier network: a forward that returns <see cref="ClassifierOutput"/>, an
/// architecture that can be saved as JSON, and an ONNX emission of the same computation next to that forward.
/// </summary>
public abstract class ClassifierNetwork : nn.Module<Tensor, ClassifierOutput>
{
    /// <summary>Creates the module.</summary>
    protected ClassifierNetwork(string name) : base(name) { }

    /// <summary>The model family, recorded in exported models (e.g. "vision_transformer").</summary>
    public abstract string Kind { get; }

    /// <summary>The architecture as JSON, recorded in exported models so they can be rebuilt.</summary>
    public abstract string ConfigJson { get; }

    /// <summary>Number of classes of the head.</summary>
    public abstract int Classes { get; }

    /// <summary>Declares the graph input <paramref name="inputName"/> and emits the forward in eval mode.</summary>
    /// <returns>The name of the logits value [batch, classes].</returns>
    public abstract string EmitOnnx(OnnxGraphBuilder graph, string inputName);
}
