using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// TorchSharp's <c>nn.Embedding</c> made exportable: a <c>weight</c> table [count, dim] whose rows int64 ids pick,
/// with an optional padding row that starts at zero and gets no gradient, and ONNX Gather.
/// </summary>
public sealed class ExportableEmbedding : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    /// <summary>The table [count, dim].</summary>
    public readonly Parameter weight;

    /// <summary>The row that padding ids read (zeros, no gradient), or null.</summary>
    public long? PaddingIndex { get; }

    /// <summary>A table of <paramref name="count"/> rows of <paramref name="dim"/>, N(0, 1) like <c>nn.Embedding</c>.</summary>
    public ExportableEmbedding(long count, long dim, long? paddingIndex = null) : base(nameof(ExportableEmbedding))
    {
        if (count < 1 || dim < 1) throw new ArgumentException($"An embedding needs count >= 1 and dim >= 1, got {count} x {dim}.", nameof(count));
        if (paddingIndex is { } p && (p < 0 || p >= count))
            throw new ArgumentOutOfRangeException(nameof(paddingIndex), $"paddingIndex {p} is outside [0, {count}).");
        PaddingIndex = paddingIndex;
        weight = new Parameter(randn(count, dim));
        if (paddingIndex is { } row)
            using (no_grad()) weight[row].zero_();
        RegisterComponents();
    }

    /// <summary>Rows of the table [..., dim] for int64 ids [...]; the padding row passes no gradient back.</summary>
    public override Tensor forward(Tensor ids)
    {
        if (ids.dtype != ScalarType.Int64)
            throw new ArgumentException($"Embedding expects int64 ids, got {ids.dtype}.", nameof(ids));
        var rows = weight.index_select(0, ids.reshape(-1)).view([.. ids.shape, weight.shape[1]]);   // [..., dim]
        if (PaddingIndex is not { } padding) return rows;
        var isPadding = ids.eq(Scalars.Of(padding)).unsqueeze(-1);                                  // [..., 1]
        return where(isPadding, rows.detach(), rows);
    }

    /// <inheritdoc />
    public string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        return graph.Gather(graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, "weight"), weight), input, axis: 0);   // [..., dim]
    }
}
