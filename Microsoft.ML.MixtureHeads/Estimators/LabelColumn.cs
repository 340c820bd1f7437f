using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>Checks and reads a key-typed label column.</summary>
internal static class LabelColumn
{
    private const string KeyValuesKind = "KeyValues";

    /// <summary>The label column, checked: it exists and is a key type with at least two classes.</summary>
    public static DataViewSchema.Column Check(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' not found in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is not KeyDataViewType key || key.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' has type {column.Type}; expected a key type (Key<UInt32>). Use mlContext.Transforms.Conversion.MapValueToKey(\"{name}\").");
        if (key.Count < 2)
            throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' has {key.Count} class; a classifier needs at least 2.");
        return column;
    }

    /// <summary>The class names in key order: the key values as text, or "1".."K" when the key type has none.</summary>
    public static string[] ClassNames(DataViewSchema.Column column)
    {
        int count = (int)((KeyDataViewType)column.Type).Count;
        var keyValues = column.Annotations.Schema.GetColumnOrNull(KeyValuesKind);
        if (keyValues is { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            column.GetKeyValues(ref values);
            return values.DenseValues().Select(v => v.ToString()).ToArray();
        }
        if (keyValues is { Type: VectorDataViewType vector })
            return ReadAsText(column, vector.ItemType.RawType, count);
        return Enumerable.Range(1, count).Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static string[] ReadAsText(DataViewSchema.Column column, Type itemType, int count)
    {
        var method = typeof(LabelColumn).GetMethod(nameof(ReadTyped), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var values = (string[])method.MakeGenericMethod(itemType).Invoke(null, [column])!;
        return values.Length == count ? values : Enumerable.Range(1, count).Select(k => k.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    private static string[] ReadTyped<T>(DataViewSchema.Column column)
    {
        VBuffer<T> values = default;
        column.Annotations.GetValue(KeyValuesKind, ref values);
        return values.DenseValues().Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToArray();
    }

    /// <summary>The 0-based class index of every row, read from the key column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A row has a missing key (value 0).</exception>
    public static long[] ReadIndices(IDataView data, string name)
    {
        var indices = new List<long>();
        var column = data.Schema[name];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<uint>(column);
        uint key = 0;
        while (cursor.MoveNext())
        {
            getter(ref key);
            if (key == 0) throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' has a missing value at row {cursor.Position}; every training row needs a class.");
            indices.Add(key - 1);
        }
        return indices.ToArray();
    }
}
