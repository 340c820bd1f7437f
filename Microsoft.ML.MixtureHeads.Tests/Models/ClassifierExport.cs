using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>Exports a classifier network with the classification objective's output heads, as a trainer does.</summary>
internal static class ClassifierExport
{
    public static byte[] Export(IMixtureHeadsNetwork<Tensor> network, IReadOnlyList<string> classes, string input, string score = "Score", string index = "index") =>
        ExportedModel.Export(network, new ClassificationObjective(network, classes, labelSmoothing: 0, augment: null, score, index), input);

    /// <summary>The network a checkpoint holds, as a classifier network.</summary>
    public static IMixtureHeadsNetwork<Tensor> Rebuild(MixtureHeadsCheckpoint checkpoint) => (IMixtureHeadsNetwork<Tensor>)checkpoint.CreateNetwork();
}
