using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>Everything a fitted classifier transformer is made of.</summary>
internal sealed record FittedClassifier(
    TransformerChain<ITransformer> Chain,
    ITransformer? Preprocessing,
    Func<IScoringInput> ScoringInput,
    byte[] OnnxModel,
    string OnnxModelFile,
    ScoringColumns Columns,
    IMixtureHeadsNetwork<TorchSharp.torch.Tensor> Network,
    TrainingSummary Summary);

/// <summary>
/// A fitted Mixture-of-Heads classifier. It is a thin shell around a chain of ML.NET stages - the pre-processing,
/// ML.NET's own <c>OnnxTransformer</c> over the exported network, the per-class stages that make <c>Score</c>'s slot
/// names, and the predicted-label stages - and forwards schema propagation, row-to-row mapping (prediction engines) and
/// saving to that chain, so <c>mlContext.Model.Save</c> writes ML.NET stages plus stateless stages of the scoring
/// package, and <c>mlContext.Model.Load</c> works in any process that references that package.
/// <see cref="Transform"/> scores in batches with ONNX Runtime (the same graph), not row by row.
/// </summary>
public abstract class MixtureHeadsClassificationTransformer : ITransformer, IDisposable
{
    private readonly FittedClassifier _fitted;
    private readonly Lazy<InferenceSession> _session;
    private bool _disposed;

    private protected MixtureHeadsClassificationTransformer(FittedClassifier fitted)
    {
        _fitted = fitted;
        _session = new Lazy<InferenceSession>(() => new InferenceSession(_fitted.OnnxModel), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Class names in label-key order: <c>PredictedLabel</c> key k is <c>ClassNames[k - 1]</c>.</summary>
    public IReadOnlyList<string> ClassNames => _fitted.Columns.ClassNames;

    /// <summary>How training went: per-epoch metrics, best epoch, whether it stopped early or was cancelled.</summary>
    public TrainingSummary TrainingSummary => _fitted.Summary;

    /// <summary>The trained TorchSharp network (eval mode): for inspection, direct inference or further training.</summary>
    public IMixtureHeadsNetwork<TorchSharp.torch.Tensor> Network
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _fitted.Network;
        }
    }

    /// <summary>Rows per ONNX Runtime call in <see cref="Transform"/>. Default 64.</summary>
    public int ScoringBatchSize { get; set; } = 64;

    /// <summary>A copy of the exported ONNX graph (also stored inside every saved .zip).</summary>
    public byte[] GetOnnxModel() => (byte[])_fitted.OnnxModel.Clone();

    /// <summary>The trained network as a checkpoint, e.g. for a trainer's <c>InitialModel</c> option.</summary>
    public MixtureHeadsCheckpoint ToCheckpoint() => MixtureHeadsCheckpoint.FromOnnx(_fitted.OnnxModel);

    /// <inheritdoc />
    public bool IsRowToRowMapper => ((ITransformer)_fitted.Chain).IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _fitted.Chain.GetOutputSchema(inputSchema);
    }

    /// <summary>The row-by-row mapper of the saved chain (what prediction engines use).</summary>
    /// <exception cref="ObjectDisposedException">The transformer was disposed, for example by a prediction engine that owned it.</exception>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ((ITransformer)_fitted.Chain).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Adds the score and predicted-label columns, scoring <see cref="ScoringBatchSize"/> rows per call.</summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var schema = _fitted.Chain.GetOutputSchema(input.Schema); // validates the input's columns
        return new BatchScoringDataView(input, schema, _fitted.Preprocessing, _fitted.ScoringInput, _session.Value,
            _fitted.Columns.ScoreColumn, _fitted.Columns.PredictedLabelColumn, ClassNames.Count, Math.Max(1, ScoringBatchSize));
    }

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ((ICanSaveModel)_fitted.Chain).Save(ctx);
    }

    /// <summary>Releases the ONNX sessions (and the temporary file ML.NET keeps for its OnnxTransformer) and the network.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_session.IsValueCreated) _session.Value.Dispose();
        foreach (var stage in _fitted.Chain.OfType<IDisposable>()) stage.Dispose();
        TemporaryModelFiles.Delete(_fitted.OnnxModelFile);
        _fitted.Network.Dispose();
        GC.SuppressFinalize(this);
    }
}
