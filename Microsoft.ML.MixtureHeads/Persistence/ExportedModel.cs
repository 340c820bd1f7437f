using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>Names and keys of the ONNX graphs we export; the graph is the single source of truth of a trained model.</summary>
internal static class ExportedModel
{
    public const string FormatVersion = "1";
    public const string FormatKey = "mixtureheads.format_version";
    public const string KindKey = "mixtureheads.kind";
    public const string ConfigKey = "mixtureheads.config";
    public const string ClassesKey = "mixtureheads.classes";

    /// <summary>
    /// Exports <paramref name="network"/> (in eval mode) as ONNX: input <paramref name="inputName"/>, outputs
    /// <paramref name="scoreName"/> (softmax probabilities [batch, classes]) and <paramref name="indexName"/>
    /// (argmax class index [batch], int64), every trained weight as an initializer under its TorchSharp name, and
    /// the architecture and class names in the metadata.
    /// </summary>
    public static byte[] Export(ClassifierNetwork network, IReadOnlyList<string> classNames, string inputName, string scoreName, string indexName)
    {
        if (classNames.Count != network.Classes)
            throw new ArgumentException($"{classNames.Count} class names for a network with {network.Classes} classes.", nameof(classNames));
        bool wasTraining = network.training;
        network.eval();
        try
        {
            var graph = new OnnxGraphBuilder();
            string logits = network.EmitOnnx(graph, inputName);
            graph.Output(graph.Softmax(logits, axis: 1), scoreName, OnnxElementType.Float, "batch", network.Classes);
            graph.Output(graph.ArgMax(logits, axis: 1, keepDims: false), indexName, OnnxElementType.Int64, "batch");
            graph.SetMetadata(FormatKey, FormatVersion);
            graph.SetMetadata(KindKey, network.Kind);
            graph.SetMetadata(ConfigKey, network.ConfigJson);
            graph.SetMetadata(ClassesKey, ModelJson.Serialize(classNames));
            return graph.ToBytes();
        }
        finally
        {
            if (wasTraining) network.train();
        }
    }
}
