using System.Collections;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>One labelled example: the network input of a row and its 0-based class.</summary>
internal readonly record struct LabeledRow<TRow>(TRow Input, long Label);

/// <summary>The training and validation batches of one Fit, and how they are held.</summary>
internal sealed record ClassifierData(IBatchSource<ClassificationBatch> Train, IBatchSource<ClassificationBatch>? Validation,
    long TrainRows, long ValidationRows, bool InMemory);

/// <summary>Collects the network input of consecutive scoring rows into an ONNX Runtime batch.</summary>
internal interface IScoringInput
{
    /// <summary>The column read (the ONNX input name).</summary>
    string Column { get; }

    /// <summary>Starts reading from <paramref name="cursor"/> (a new batch).</summary>
    void Begin(DataViewRowCursor cursor);

    /// <summary>Appends the cursor's current row.</summary>
    void AddCurrentRow();

    /// <summary>The rows added since the last build, as one ONNX value [rows, ...].</summary>
    NamedOnnxValue Build();
}

/// <summary>
/// What a classifier trainer supplies for one Fit: the ML.NET stages to its network input, how that input is read
/// and batched, and how the network is built. Reading is the same for every modality: labels are counted and
/// checked in one pass, validation rows are held out by position, and examples are kept in memory or streamed.
/// </summary>
internal abstract class ClassifierPlan
{
    /// <summary>Standard (or stateless) ML.NET stages that produce <see cref="InputColumn"/>; null when the user's column is used as it is.</summary>
    public abstract IEstimator<ITransformer>? Stages { get; }

    /// <summary>The column the network reads (also the ONNX input name).</summary>
    public abstract string InputColumn { get; }

    /// <summary>Columns the stages add that the fitted model drops again.</summary>
    public abstract IReadOnlyList<string> TemporaryColumns { get; }

    /// <summary>Reads the featurised training data (and validation data) into batch sources, passing
    /// <paramref name="report"/> a line on the rows read every <c>ReportInterval</c> of the first read.</summary>
    public abstract ClassifierData Read(IDataView train, IDataView? validation, Func<DataViewRowCursor, Func<long>>? validationLabels,
        string labelColumn, ClassifierOptionsBase options, int seed, Action<string>? report);

    /// <summary>A freshly initialised network for the classes; it may learn what it needs from the training inputs (a vocabulary).</summary>
    public abstract IMixtureHeadsNetwork<TorchSharp.torch.Tensor> CreateNetwork(IReadOnlyList<string> classNames);

    /// <summary>A new scoring batch builder over the same input adapter.</summary>
    public abstract IScoringInput CreateScoringInput();

    /// <summary>
    /// The data read by <see cref="Read"/> with each example's input replaced by <paramref name="features"/> of it,
    /// computed once, so training no longer runs the layers that make them; null when the examples are streamed or
    /// the features would not fit <see cref="TrainerOptionsBase.MaxInMemoryDataBytes"/>.
    /// </summary>
    /// <param name="features">A batch of inputs to its features [rows, ...featureShape] (a frozen trunk).</param>
    /// <param name="featureShape">One example's features.</param>
    /// <param name="options">Batch size and memory budget.</param>
    /// <param name="seed">The shuffle seed, as for <see cref="Read"/>.</param>
    public abstract ClassifierData? WithCachedFeatures(Func<HostTensor, float[]> features, long[] featureShape, ClassifierOptionsBase options, int seed);

    /// <summary>The peak learning rate to train with instead of the options' (a pretrained start the user left at the
    /// trainer's default), or null to keep the options'.</summary>
    public double? LearningRate { get; init; }
}

/// <summary>A <see cref="ClassifierPlan"/> whose rows are <typeparamref name="TRow"/>s.</summary>
/// <param name="stages">The stages to the network input, or null.</param>
/// <param name="input">Reads and batches the network input column.</param>
/// <param name="temporaryColumns">Columns the stages add.</param>
/// <param name="bytesPerRow">The memory of one kept row when known up front (fixed-size inputs), else null.</param>
/// <param name="createNetwork">Builds the network for the class names, reading the training inputs if it needs to.</param>
internal sealed class ClassifierPlan<TRow>(
    IEstimator<ITransformer>? stages,
    IInputAdapter<TRow> input,
    IReadOnlyList<string> temporaryColumns,
    long? bytesPerRow,
    Func<IReadOnlyList<string>, Func<IEnumerable<TRow>>, IMixtureHeadsNetwork<TorchSharp.torch.Tensor>> createNetwork) : ClassifierPlan
{
    private ExampleSource<LabeledRow<TRow>>? _train, _validation;

    public override IEstimator<ITransformer>? Stages => stages;

    public override string InputColumn => input.Column;

    public override IReadOnlyList<string> TemporaryColumns => temporaryColumns;

    public override ClassifierData Read(IDataView train, IDataView? validation, Func<DataViewRowCursor, Func<long>>? validationLabels,
        string labelColumn, ClassifierOptionsBase options, int seed, Action<string>? report)
    {
        Func<DataViewRowCursor, Func<long>> trainingLabels = cursor => LabelColumn.KeyReader(cursor, labelColumn, "training");
        long rows = CountRows(train, labelColumn, trainingLabels);
        if (rows == 0) throw new ArgumentException("The training data has no rows.", nameof(train));

        BitArray? heldOut = null;
        if (validation is null && options.ValidationFraction > 0)
        {
            long held = (long)Math.Round(rows * options.ValidationFraction);
            if (held < 1 || held >= rows)
                throw new ArgumentException($"ValidationFraction {options.ValidationFraction} of {rows} rows leaves no training or no validation rows.", nameof(options));
            heldOut = HeldOutRows(rows, held, seed);
        }
        int pool = Math.Max(16 * options.BatchSize, 1024);
        ExampleSource<LabeledRow<TRow>> Source(IDataView data, Func<DataViewRowCursor, Func<long>> labels, Func<long, bool>? keep, long count, string dataSet)
        {
            var progress = new ReadProgress(report, dataSet, count, options.ReportInterval);
            var source = ExampleSource<LabeledRow<TRow>>.Create(() => progress.Track(ReadRows(data, labelColumn, labels, keep, dataSet)), count,
                row => input.SizeInBytes(row.Input) + 8, options.MaxInMemoryDataBytes, bytesPerRow + 8, pool);
            progress.Stop();
            return source;
        }

        long heldCount = heldOut is null ? 0 : CountTrue(heldOut);
        _train = Source(train, trainingLabels, heldOut is null ? null : row => !heldOut[(int)row], rows - heldCount, "training");
        var heldRows = heldOut is null ? null : Source(train, trainingLabels, row => heldOut[(int)row], heldCount, "validation");
        if (validation is not null)
        {
            long validationRows = CountRows(validation, labelColumn, validationLabels!);
            if (validationRows == 0) throw new ArgumentException("The validation data has no rows.", nameof(validation));
            heldRows = Source(validation, validationLabels!, null, validationRows, "validation");
        }

        _validation = heldRows;
        Func<LabeledRow<TRow>, int>? lengthOf = input.LengthOf is { } length ? row => length(row.Input) : null;
        var trainBatches = new BatchSource<LabeledRow<TRow>, ClassificationBatch>(_train, options.BatchSize, shuffle: true, seed, Collate, lengthOf);
        var validationBatches = heldRows is null ? null
            : new BatchSource<LabeledRow<TRow>, ClassificationBatch>(heldRows, options.BatchSize, shuffle: false, seed, Collate, lengthOf);
        return new ClassifierData(trainBatches, validationBatches, _train.Count, heldRows?.Count ?? 0, _train.InMemory && (heldRows?.InMemory ?? true));
    }

    public override IMixtureHeadsNetwork<TorchSharp.torch.Tensor> CreateNetwork(IReadOnlyList<string> classNames)
    {
        var train = _train ?? throw new InvalidOperationException("Read the data before creating the network.");
        return createNetwork(classNames, () => train.InOrder().Select(row => row.Input));
    }

    public override IScoringInput CreateScoringInput() => new ScoringInput(input);

    public override ClassifierData? WithCachedFeatures(Func<HostTensor, float[]> features, long[] featureShape, ClassifierOptionsBase options, int seed)
    {
        var train = _train ?? throw new InvalidOperationException("Read the data before caching features.");
        long size = featureShape.Aggregate(1L, (a, b) => a * b);
        long bytes = (train.Count + (_validation?.Count ?? 0)) * (4 * size + 40);
        if (!train.InMemory || _validation is { InMemory: false } || bytes > options.MaxInMemoryDataBytes) return null;

        var adapter = new PixelInput(input.Column, featureShape);
        ExampleSource<LabeledRow<float[]>> Cache(ExampleSource<LabeledRow<TRow>> examples)
        {
            var rows = new List<LabeledRow<float[]>>((int)examples.Count);
            foreach (var chunk in examples.InOrder().Chunk(options.BatchSize))
            {
                float[] values = features(input.Collate(chunk.Select(r => r.Input).ToList()));
                for (int i = 0; i < chunk.Length; i++) rows.Add(new LabeledRow<float[]>(values.AsSpan((int)(i * size), (int)size).ToArray(), chunk[i].Label));
            }
            return ExampleSource<LabeledRow<float[]>>.FromList(rows);
        }
        ClassificationBatch Collate(IReadOnlyList<LabeledRow<float[]>> rows) => new(adapter.Collate(rows.Select(r => r.Input).ToList()), rows.Select(r => r.Label).ToArray());

        var cachedTrain = Cache(train);
        var cachedValidation = _validation is null ? null : Cache(_validation);
        return new ClassifierData(
            new BatchSource<LabeledRow<float[]>, ClassificationBatch>(cachedTrain, options.BatchSize, shuffle: true, seed, Collate),
            cachedValidation is null ? null : new BatchSource<LabeledRow<float[]>, ClassificationBatch>(cachedValidation, options.BatchSize, shuffle: false, seed, Collate),
            cachedTrain.Count, cachedValidation?.Count ?? 0, InMemory: true);
    }

    private ClassificationBatch Collate(IReadOnlyList<LabeledRow<TRow>> rows) =>
        new(input.Collate(rows.Select(r => r.Input).ToList()), rows.Select(r => r.Label).ToArray());

    private IEnumerable<LabeledRow<TRow>> ReadRows(IDataView data, string labelColumn, Func<DataViewRowCursor, Func<long>> labels, Func<long, bool>? keep, string dataSet)
    {
        var schema = data.Schema;
        using var cursor = data.GetRowCursor([schema[input.Column], schema[labelColumn], .. RowDescription.TextColumns(schema)]);
        var readInput = input.CreateReader(cursor, dataSet);
        var readLabel = labels(cursor);
        var describe = RowDescription.Of(cursor);
        while (true)
        {
            TRow value;
            long label;
            bool moved = false;
            try
            {
                if (!cursor.MoveNext()) break;
                moved = true;
                if (keep is not null && !keep(cursor.Position)) continue;
                label = readLabel();
                value = readInput();
            }
            catch (Exception e) when (RowDescription.UndecodableImage(e) is { } bad)
            {
                // ML.NET decodes ahead on worker threads, whose errors surface in MoveNext: find the row again.
                string row = moved ? describe() : RowDescription.FirstUndecodableImage(data) ?? $"a row after row {cursor.Position}";
                throw new ImageDecodingException($"The {dataSet} data, {row}: {bad.Message}", e);
            }
            yield return new LabeledRow<TRow>(value, label);
        }
    }

    /// <summary>Rows of <paramref name="data"/>, reading (and so checking) every label but no input.</summary>
    private static long CountRows(IDataView data, string labelColumn, Func<DataViewRowCursor, Func<long>> labels)
    {
        using var cursor = data.GetRowCursor([data.Schema[labelColumn]]);
        var readLabel = labels(cursor);
        long rows = 0;
        while (cursor.MoveNext())
        {
            readLabel();
            rows++;
        }
        return rows;
    }

    /// <summary><paramref name="held"/> of <paramref name="rows"/> row positions drawn uniformly from <paramref name="seed"/>.</summary>
    private static BitArray HeldOutRows(long rows, long held, int seed)
    {
        if (rows > int.MaxValue) throw new ArgumentException($"ValidationFraction splits at most {int.MaxValue} rows; the data has {rows}. Pass a ValidationSet instead.");
        var random = new Random(unchecked(seed + 1));
        var chosen = new BitArray((int)rows);
        for (long j = rows - held; j < rows; j++)     // Floyd's sampling: held distinct positions, each subset equally likely
        {
            int candidate = random.Next((int)j + 1);
            chosen[chosen[candidate] ? (int)j : candidate] = true;
        }
        return chosen;
    }

    private static long CountTrue(BitArray bits)
    {
        long count = 0;
        foreach (bool bit in bits) if (bit) count++;
        return count;
    }

    private sealed class ScoringInput(IInputAdapter<TRow> input) : IScoringInput
    {
        private readonly List<TRow> _rows = [];
        private Func<TRow>? _read;

        public string Column => input.Column;

        public void Begin(DataViewRowCursor cursor)
        {
            _read = input.CreateReader(cursor, "scoring");
            _rows.Clear();
        }

        public void AddCurrentRow() => _rows.Add(_read!());

        public NamedOnnxValue Build()
        {
            var batch = input.Collate(_rows).ToOnnx(input.Column);
            _rows.Clear();
            return batch;
        }
    }
}
