using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// <c>Transform</c> of a fitted classifier, batched: the saved chain scores row by row (ML.NET's OnnxTransformer runs
/// one row per call), so in-process scoring instead runs the same ONNX graph on batches of rows with ONNX Runtime
/// directly. The schema is exactly the saved chain's; columns other than the score and predicted label pass through
/// from the input. Rows are read twice - once for the pass-through columns and once, a batch ahead, for the
/// model input - so neither the input nor the pre-processing has to be buffered.
/// </summary>
internal sealed class BatchScoringDataView : IDataView
{
    private readonly IDataView _input;
    private readonly ITransformer? _preprocessing;
    private readonly Func<IScoringInput> _scoringInput;
    private readonly InferenceSession _session;
    private readonly string _scoreColumn, _predictedLabelColumn;
    private readonly int _classCount, _batchSize;
    private readonly int[] _sourceOfColumn; // output column -> input column, or -1 for score / predicted label

    public BatchScoringDataView(IDataView input, DataViewSchema outputSchema, ITransformer? preprocessing, Func<IScoringInput> scoringInput,
        InferenceSession session, string scoreColumn, string predictedLabelColumn, int classCount, int batchSize)
    {
        (_input, Schema, _preprocessing, _scoringInput, _session) = (input, outputSchema, preprocessing, scoringInput, session);
        (_scoreColumn, _predictedLabelColumn, _classCount, _batchSize) = (scoreColumn, predictedLabelColumn, classCount, batchSize);
        _sourceOfColumn = MatchColumns(input.Schema, outputSchema, scoreColumn, predictedLabelColumn);
    }

    /// <summary>
    /// The visible score and predicted-label columns are ours; every other output column passes an input column through:
    /// in order (drops keep order, hidden columns included), or, for a column the chain restored after a class column
    /// had hidden it, the visible input column of that name.
    /// </summary>
    private static int[] MatchColumns(DataViewSchema input, DataViewSchema output, string score, string predicted)
    {
        var source = new int[output.Count];
        int next = 0;
        for (int i = 0; i < output.Count; i++)
        {
            var column = output[i];
            bool ours = !column.IsHidden && (column.Name == score || column.Name == predicted);
            if (ours) { source[i] = -1; continue; }
            int found = next;
            while (found < input.Count && !(input[found].Name == column.Name && input[found].Type.Equals(column.Type))) found++;
            if (found < input.Count) (source[i], next) = (found, found + 1);
            else if (input.GetColumnOrNull(column.Name) is { } restored && restored.Type.Equals(column.Type)) source[i] = restored.Index;
            else throw new InvalidOperationException($"Output column '{column.Name}' has no source column in the input.");
        }
        return source;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        var passThrough = needed.Where(i => _sourceOfColumn[i] >= 0).Select(i => _input.Schema[_sourceOfColumn[i]]).ToList();
        bool scores = needed.Any(i => _sourceOfColumn[i] < 0);
        var inputCursor = _input.GetRowCursor(passThrough);
        return new Cursor(this, inputCursor, scores ? Features() : null);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private IDataView Features() => _preprocessing?.Transform(_input) ?? _input;

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchScoringDataView _view;
        private readonly DataViewRowCursor _rows;
        private readonly IDataView? _featureData;
        private readonly DataViewRowCursor? _features;
        private readonly IScoringInput _batch;
        private float[] _scores = [];
        private long[] _predicted = [];
        private int _batchRows, _offset = -1;

        public Cursor(BatchScoringDataView view, DataViewRowCursor rows, IDataView? featureData)
        {
            (_view, _rows, _featureData) = (view, rows, featureData);
            _features = featureData?.GetRowCursor([featureData.Schema[view._scoringInput().Column]]);
            _batch = view._scoringInput();
            if (_features is not null) _batch.Begin(_features);
        }

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _rows.Position;
        public override long Batch => _rows.Batch;

        public override bool MoveNext()
        {
            if (!_rows.MoveNext()) return false;
            if (_features is not null && ++_offset >= _batchRows) ScoreNextBatch();
            return true;
        }

        private void ScoreNextBatch()
        {
            _batch.Begin(_features!);
            int rows = 0;
            try
            {
                while (rows < _view._batchSize && _features!.MoveNext())
                {
                    _batch.AddCurrentRow();
                    rows++;
                }
            }
            catch (Exception e) when (RowDescription.UndecodableImage(e) is { } bad)
            {
                // ML.NET decodes ahead on worker threads, whose errors carry no row: find it again.
                string row = RowDescription.FirstUndecodableImage(_featureData!) ?? $"a row after row {_features!.Position}";
                throw new Scoring.ImageDecodingException($"The scoring data, {row}: {bad.Message}", e);
            }
            if (rows == 0) throw new InvalidOperationException("The model input ran out of rows before the data did.");
            using var results = _view._session.Run([_batch.Build()]);
            _scores = results.First(r => r.Name == _view._scoreColumn).AsTensor<float>().ToArray();
            _predicted = results.First(r => r.Name == PredictedLabelMapping.IndexColumn).AsTensor<long>().ToArray();
            (_batchRows, _offset) = (rows, 0);
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int source = _view._sourceOfColumn[column.Index];
            if (source >= 0) return _rows.GetGetter<TValue>(_rows.Schema[source]);
            if (column.Name == _view._scoreColumn)
            {
                ValueGetter<VBuffer<float>> score = (ref VBuffer<float> value) =>
                {
                    var editor = VBufferEditor.Create(ref value, _view._classCount);
                    _scores.AsSpan(_offset * _view._classCount, _view._classCount).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)score;
            }
            ValueGetter<uint> predicted = (ref uint value) => value = (uint)_predicted[_offset] + 1;
            return (ValueGetter<TValue>)(Delegate)predicted;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _rows.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
        {
            int source = _view._sourceOfColumn[column.Index];
            return source >= 0 ? _rows.IsColumnActive(_rows.Schema[source]) : _features is not null;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _rows.Dispose();
                _features?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
