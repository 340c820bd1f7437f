using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>Reads the token id column of an <see cref="IDataView"/> (for building the vocabulary and the training tensors).</summary>
internal static class TokenIdReader
{
    /// <summary>Every row's ids, in row order, with one cursor over that column alone.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or not a vector of Int64.</exception>
    public static long[][] ReadAll(IDataView data, string column)
    {
        ArgumentNullException.ThrowIfNull(data);
        var col = data.Schema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(column), $"Token id column '{column}' not found.");
        if (col.Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Int64)
            throw new ArgumentOutOfRangeException(nameof(column), $"Token id column '{column}' has type {col.Type}; expected a vector of Int64.");

        var rows = new List<long[]>();
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<long>>(col);
        var buffer = default(VBuffer<long>);
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            rows.Add(buffer.IsDense ? buffer.GetValues().ToArray() : buffer.DenseValues().ToArray());
        }
        return [.. rows];
    }
}
