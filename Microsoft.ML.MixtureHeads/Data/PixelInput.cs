using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>A known-size float vector per row (image pixels [C, H, W]), batched as [rows, C, H, W].</summary>
internal sealed class PixelInput(string column, long[] rowShape) : IInputAdapter<float[]>
{
    private readonly long _size = rowShape.Aggregate(1L, (a, b) => a * b);

    /// <inheritdoc />
    public string Column => column;

    /// <summary>One row's shape, e.g. [C, H, W].</summary>
    public long[] RowShape => rowShape;

    /// <inheritdoc />
    public Func<float[]> CreateReader(DataViewRowCursor cursor, string dataSet)
    {
        var getter = cursor.GetGetter<VBuffer<float>>(cursor.Schema[column]);
        VBuffer<float> buffer = default;
        return () =>
        {
            getter(ref buffer);
            if (buffer.Length != _size)
                throw new InvalidDataException(
                    $"Column '{column}' of the {dataSet} data has {buffer.Length} values at row {cursor.Position}; the model takes {_size} ({string.Join("x", rowShape)}).");
            var values = new float[_size];
            buffer.CopyTo(values);
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
                throw new InvalidDataException($"Column '{column}' of the {dataSet} data holds {values[bad]} at row {cursor.Position} (value {bad}); inputs must be finite.");
            return values;
        };
    }

    /// <inheritdoc />
    public long SizeInBytes(float[] row) => 4L * row.Length + 32;

    /// <inheritdoc />
    public Func<float[], int>? LengthOf => null;

    /// <inheritdoc />
    public HostTensor Collate(IReadOnlyList<float[]> rows)
    {
        var values = new float[rows.Count * _size];
        for (int i = 0; i < rows.Count; i++) rows[i].CopyTo(values, i * _size);
        return HostTensor.Of(values, [rows.Count, .. rowShape]);
    }
}
