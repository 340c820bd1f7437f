using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// The compact vocabulary as part of a network: a persistent int64 buffer <c>lookup_table</c> mapping every
/// tokenization-stage id to an embedding row, so it is saved and restored with the weights (and exported under the
/// same name as the graph's lookup initializer).
/// </summary>
public sealed class VocabularyLookup : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    /// <summary>Stage id -> embedding row. Shape [stage id space].</summary>
    public readonly Tensor lookup_table;

    /// <summary>Builds the lookup for <paramref name="vocabulary"/>.</summary>
    public VocabularyLookup(CompactVocabulary vocabulary) : base(nameof(VocabularyLookup))
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        lookup_table = tensor(vocabulary.ToLookupTable()).DetachFromDisposeScope();
        RegisterComponents(); // registers the Tensor field as a persistent buffer
    }

    /// <summary>The vocabulary the buffer currently holds (after loading weights it is the saved one).</summary>
    public CompactVocabulary Vocabulary => CompactVocabulary.FromLookupTable(lookup_table.cpu().data<long>().ToArray());

    /// <summary>Maps stage ids [B, L] to embedding rows [B, L]; ids outside the table map to Unknown, as in the graph.</summary>
    public override Tensor forward(Tensor stageIds)
    {
        var outOfRange = stageIds.lt(Scalars.Of(0L)).logical_or(stageIds.ge(Scalars.Of(lookup_table.shape[0])));
        var rows = lookup_table.index_select(0, stageIds.masked_fill(outOfRange, Scalars.Of(0L)).reshape(-1)).view(stageIds.shape);
        return rows.masked_fill(outOfRange, Scalars.Of(CompactVocabulary.Unknown));
    }

    /// <summary>Emits <see cref="forward"/> on int64 stage ids [...]; the table goes in as <c>prefix.lookup_table</c>.</summary>
    public string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        ArgumentNullException.ThrowIfNull(graph);
        using var scope = graph.Scope(prefix);
        long space = lookup_table.shape[0];
        string inRange = graph.And(graph.GreaterOrEqual(input, graph.Scalar(0L)), graph.Less(input, graph.Scalar(space)));
        string gathered = graph.Gather(graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "lookup_table"), lookup_table),
            graph.Where(inRange, input, graph.Scalar(0L)));
        return graph.Where(inRange, gathered, graph.Scalar(CompactVocabulary.Unknown));
    }
}
