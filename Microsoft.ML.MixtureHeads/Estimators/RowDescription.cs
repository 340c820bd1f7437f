using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Names the row at fault in an error: its position and its text values (the image path column, typically), so that
/// a corrupt file among thousands is found by name.
/// </summary>
internal static class RowDescription
{
    private const int MaxColumns = 3, MaxCharacters = 200;

    /// <summary>The visible scalar text columns of <paramref name="schema"/> worth activating to describe a row.</summary>
    public static IEnumerable<DataViewSchema.Column> TextColumns(DataViewSchema schema) =>
        schema.Where(c => !c.IsHidden && c.Type is TextDataViewType && !c.Name.StartsWith(ScoringColumns.ReservedPrefix, StringComparison.Ordinal)).Take(MaxColumns);

    /// <summary>A function that describes the cursor's current row, e.g. <c>row 17 (ImagePath = 'photos/cat/3.png')</c>.</summary>
    public static Func<string> Of(DataViewRowCursor cursor)
    {
        var readers = TextColumns(cursor.Schema).Where(cursor.IsColumnActive).Select(column =>
        {
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            return (Func<string>)(() =>
            {
                ReadOnlyMemory<char> value = default;
                getter(ref value);
                string text = value.Length > MaxCharacters ? $"{value[..MaxCharacters]}..." : value.ToString();
                return $"{column.Name} = '{text}'";
            });
        }).ToList();
        return () => readers.Count == 0 ? $"row {cursor.Position}" : $"row {cursor.Position} ({string.Join(", ", readers.Select(r => r()))})";
    }

    /// <summary>The undecodable-image error inside <paramref name="error"/> (ML.NET wraps errors of its worker threads), or null.</summary>
    public static ImageDecodingException? UndecodableImage(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
            if (e is ImageDecodingException decoding) return decoding;
        return null;
    }

    /// <summary>
    /// Reads the encoded image bytes of <paramref name="data"/> row by row on this thread and describes the first row
    /// that does not decode, or returns null (no such column, or every row decodes). ML.NET decodes ahead on worker
    /// threads, so the row at fault is found again this way when the error came from there.
    /// </summary>
    public static string? FirstUndecodableImage(IDataView data)
    {
        if (data.Schema.GetColumnOrNull(ImageBytesDecoding.BytesColumn) is not { } column) return null;
        using var cursor = data.GetRowCursor([column, .. TextColumns(data.Schema)]);
        var getter = cursor.GetGetter<VBuffer<byte>>(column);
        var describe = Of(cursor);
        VBuffer<byte> bytes = default;
        while (cursor.MoveNext())
        {
            getter(ref bytes);
            try
            {
                using var image = ImageBytesDecoding.Decode(bytes.DenseValues().ToArray());
            }
            catch (ImageDecodingException)
            {
                return describe();
            }
        }
        return null;
    }
}
