using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// A fitted language-model scorer: a thin shell around a chain of ML.NET stages (byte tokenization, ML.NET's own
/// <c>OnnxTransformer</c> over the exported scoring graph, the stages that make each score a scalar column) to which it
/// forwards transforming, schema propagation, row-to-row mapping and saving, so <c>mlContext.Model.Save</c> writes ML.NET
/// stages plus stateless stages of the scoring package, and <c>mlContext.Model.Load</c> works without TorchSharp.
/// </summary>
public sealed class MoHLanguageModelScoringTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    private readonly byte[] _onnx;
    private readonly string _onnxFile;
    private readonly MoHCausalLM _model;
    private readonly string _textColumn;
    private bool _disposed;

    internal MoHLanguageModelScoringTransformer(TransformerChain<ITransformer> chain, byte[] onnx, string onnxFile, MoHCausalLM model, string textColumn,
        CausalLMTrainingResult? training) =>
        (_chain, _onnx, _onnxFile, _model, _textColumn, Training) = (chain, onnx, onnxFile, model, textColumn, training);

    /// <summary>How training went (per-epoch metrics and validation perplexities), or null when a checkpoint was used as it is.</summary>
    public CausalLMTrainingResult? Training { get; }

    /// <summary>The TorchSharp language model (eval mode, CPU): for <see cref="CausalLMLikelihood.Score"/>, generation,
    /// <see cref="CausalLMCheckpoint.Save"/> or further training.</summary>
    public MoHCausalLM Model
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _model;
        }
    }

    /// <summary>A copy of the exported scoring graph (also stored inside every saved .zip).</summary>
    public byte[] GetOnnxModel() => (byte[])_onnx.Clone();

    /// <inheritdoc />
    public bool IsRowToRowMapper => ((ITransformer)_chain).IsRowToRowMapper;

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The text column is missing or not text.</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckText(inputSchema);
        return _chain.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The text column is missing or not text.</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckText(inputSchema);
        return ((ITransformer)_chain).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Adds the log-likelihood, perplexity and token-count columns (ONNX Runtime, one row per call).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The text column is missing or not text.</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckText(input.Schema);
        return _chain.Transform(input);
    }

    private void CheckText(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var column = schema.GetColumnOrNull(_textColumn)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{_textColumn}' not found (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{_textColumn}' has type {column.Type}; expected String (text).");
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ((ICanSaveModel)_chain).Save(ctx);
    }

    /// <summary>Releases the ONNX stage (and the model file ML.NET's OnnxTransformer reads) and the TorchSharp model.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var stage in _chain.OfType<IDisposable>()) stage.Dispose();
        TemporaryModelFiles.Delete(_onnxFile);
        _model.Dispose();
    }
}
