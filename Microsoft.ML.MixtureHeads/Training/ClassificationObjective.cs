using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;

using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>A batch of labelled inputs: the network input [B, ...] and the 0-based class of each row.</summary>
internal sealed record ClassificationBatch(HostTensor Inputs, long[] Labels);

/// <summary>
/// Classification: label-smoothed cross-entropy in training (plain cross-entropy in evaluation), accuracy, and the
/// deployed outputs <c>Score</c> (softmax probabilities [batch, classes]), the predicted index (argmax, int64 [batch])
/// and one probability output per class, with the class names in the model's metadata.
/// </summary>
internal sealed class ClassificationObjective(
    IMixtureHeadsNetwork<Tensor> network,
    IReadOnlyList<string> classNames,
    double labelSmoothing,
    Func<Tensor, Generator, Tensor>? augment,
    string scoreColumn,
    string indexColumn) : ITrainingObjective<ClassificationBatch>, IOnnxOutputHeads
{
    /// <summary>The metadata key of the class names (a JSON array, in label-key order).</summary>
    public const string ClassesKey = "mixtureheads.classes";

    /// <inheritdoc />
    public nn.Module Network => network.Module;

    /// <summary>Class names in label-key order.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <inheritdoc />
    public ValidationCriterion Criterion => ValidationCriterion.Accuracy;

    /// <inheritdoc />
    public ObjectiveResult Compute(ClassificationBatch batch, Device device, Generator generator)
    {
        var inputs = batch.Inputs.ToTensor(CPU);
        if (network.Module.training && augment is not null) inputs = augment(inputs, generator);
        var labels = tensor(batch.Labels, device: device);                                   // [B]
        var output = network.call(inputs.to(device));
        var logits = output.Output;                                                          // [B, classes]
        if (logits.dim() != 2 || logits.shape[1] != classNames.Count)
            throw new InvalidOperationException($"The network gives [{string.Join(", ", logits.shape)}] scores for {classNames.Count} classes.");
        var loss = F.cross_entropy(logits, labels, label_smoothing: network.Module.training ? labelSmoothing : 0);
        var correct = logits.argmax(1).eq(labels).sum();
        return new ObjectiveResult(loss, output.BalanceLoss, output.HeadGates, batch.Labels.Length, batch.Labels.Length, correct);
    }

    /// <summary>
    /// The probabilities [batch, classes] as the score output (batched scoring reads it), the predicted index, and each
    /// class's probability [batch] as an output of its own (<see cref="ClassOutput"/>), from which the saved chain makes
    /// <c>Score</c> with the class names as slot names.
    /// </summary>
    public void EmitOutputs(OnnxGraphBuilder graph, string networkOutput)
    {
        var probabilities = graph.Softmax(networkOutput, axis: 1);                          // [batch, classes]
        graph.Output(probabilities, scoreColumn, OnnxElementType.Float, "batch", classNames.Count);
        graph.Output(graph.ArgMax(networkOutput, axis: 1, keepDims: false), indexColumn, OnnxElementType.Int64, "batch");
        var perClass = graph.Split(probabilities, 1, Enumerable.Repeat(1L, classNames.Count).ToArray());   // [batch, 1] each
        for (int k = 0; k < classNames.Count; k++)
            graph.Output(graph.Squeeze(perClass[k], 1), ClassOutput(k), OnnxElementType.Float, "batch");
    }

    /// <summary>The graph output holding class <paramref name="k"/>'s probability (0-based, label-key order).</summary>
    public static string ClassOutput(int k) => $"__MoH_Class{k}";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> Metadata => new Dictionary<string, string> { [ClassesKey] = System.Text.Json.JsonSerializer.Serialize(classNames) };
}
