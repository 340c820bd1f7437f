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

    /// <summary>
    /// Exports <paramref name="network"/> (in eval mode) as ONNX: its inputs named <paramref name="inputNames"/>, the
    /// task's outputs from <paramref name="heads"/>, every trained weight as an initializer under its TorchSharp name,
    /// and the kind, architecture and the task's metadata in <c>metadata_props</c>.
    /// </summary>
    public static byte[] Export(IMixtureHeadsNetwork network, IOnnxOutputHeads heads, params string[] inputNames)
    {
        var module = network.Module;
        bool wasTraining = module.training;
        module.eval();
        try
        {
            var graph = new OnnxGraphBuilder();
            heads.EmitOutputs(graph, network.EmitOnnx(graph, inputNames));
            graph.SetMetadata(FormatKey, FormatVersion);
            graph.SetMetadata(KindKey, network.Kind);
            graph.SetMetadata(ConfigKey, ModelJson.Serialize(network.Config));
            foreach (var (key, value) in heads.Metadata) graph.SetMetadata(key, value);
            return graph.ToBytes();
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }
}
