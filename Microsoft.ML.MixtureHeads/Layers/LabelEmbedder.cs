using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// DiT's <c>LabelEmbedder</c>: a table of <c>classes + 1</c> rows, the last one the null class that classifier-free
/// guidance conditions on for the unconditional prediction. Dropping labels to the null class in training is the
/// objective's job, so the forward is deterministic. State-dict name <c>embedding_table.weight</c>.
/// </summary>
public sealed class LabelEmbedder : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    /// <summary>The table [classes + 1, dim].</summary>
    public readonly ExportableEmbedding embedding_table;

    /// <summary>Creates the table for <paramref name="classes"/> classes plus the null class.</summary>
    public LabelEmbedder(int classes, int dim) : base(nameof(LabelEmbedder))
    {
        embedding_table = new ExportableEmbedding(classes + 1, dim);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor labels) => embedding_table.call(labels);   // [B, dim]

    /// <inheritdoc />
    public string EmitOnnx(OnnxGraphBuilder graph, string labels, string prefix) =>
        embedding_table.EmitOnnx(graph, labels, OnnxGraphBuilder.ParameterName(prefix, "embedding_table"));
}
