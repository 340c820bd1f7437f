using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// A variable-length int64 vector per row (token ids), kept to its first <paramref name="maxLength"/> ids and batched
/// as [rows, L] padded with 0 to the longest row of the batch (L at least 1), not of the whole data set; training
/// batches group rows of similar length (see <see cref="BatchSource{TExample, TBatch}"/>).
/// </summary>
internal sealed class TokenInput(string column, int maxLength) : IInputAdapter<long[]>
{
    /// <inheritdoc />
    public string Column => column;

    /// <inheritdoc />
    public Func<long[]> CreateReader(DataViewRowCursor cursor, string dataSet)
    {
        var getter = cursor.GetGetter<VBuffer<long>>(cursor.Schema[column]);
        VBuffer<long> buffer = default;
        return () =>
        {
            getter(ref buffer);
            var ids = new long[Math.Min(buffer.Length, maxLength)];
            if (buffer.IsDense) buffer.GetValues()[..ids.Length].CopyTo(ids);
            else
            {
                var dense = buffer.DenseValues().Take(ids.Length).ToArray();
                dense.CopyTo(ids, 0);
            }
            return ids;
        };
    }

    /// <inheritdoc />
    public long SizeInBytes(long[] row) => 8L * row.Length + 32;

    /// <inheritdoc />
    public Func<long[], int>? LengthOf => row => row.Length;

    /// <inheritdoc />
    public HostTensor Collate(IReadOnlyList<long[]> rows)
    {
        int length = Math.Max(1, rows.Count == 0 ? 0 : rows.Max(r => r.Length));
        var ids = new long[rows.Count * length];   // 0 = padding
        for (int i = 0; i < rows.Count; i++) rows[i].CopyTo(ids, i * length);
        return HostTensor.Of(ids, [rows.Count, length]);
    }
}
