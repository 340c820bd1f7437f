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
    public static long[] ReadIndices(IDataView data, string name) =>
        ReadEach(data, data.Schema[name], (uint key, long row) => key != 0 ? key - 1
            : throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' has a missing value at row {row}; every training row needs a class."));

    /// <summary>Maps the value of <paramref name="column"/> in every row (and the row's position) to a class index.</summary>
    private static long[] ReadEach<T>(IDataView data, DataViewSchema.Column column, Func<T, long, long> classIndex)
    {
        var indices = new List<long>();
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<T>(column);
        T value = default!;
        while (cursor.MoveNext())
        {
            getter(ref value);
            indices.Add(classIndex(value, cursor.Position));
        }
        return indices.ToArray();
    }

    /// <summary>
    /// The 0-based class index of every row of a validation set, in the training classes' order: its label is either a key
    /// type with the same classes in the same order, or text holding the class names.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The label column is missing, of another type, has other classes, or a row names an unknown class.</exception>
    public static long[] ReadIndicesInClasses(IDataView data, string name, IReadOnlyList<string> classNames)
    {
        var column = data.Schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Validation label column '{name}' not found (columns: {string.Join(", ", data.Schema.Select(c => c.Name))}).");
        if (column.Type is KeyDataViewType)
        {
            Check(data.Schema, name);
            var validationClasses = ClassNames(column);
            if (!validationClasses.SequenceEqual(classNames))
                throw new ArgumentOutOfRangeException(nameof(name),
                    $"Validation label column '{name}' has the classes [{string.Join(", ", validationClasses)}] but the training data [{string.Join(", ", classNames)}]. " +
                    "Pass the validation set with its raw labels, or map both with the same fitted MapValueToKey transformer.");
            return ReadIndices(data, name);
        }
        if (column.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(name), $"Validation label column '{name}' has type {column.Type}; expected the class names as text or the training data's key type.");

        var indexOf = classNames.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        return ReadEach(data, column, (ReadOnlyMemory<char> value, long row) => indexOf.TryGetValue(value.ToString(), out long index) ? index
            : throw new ArgumentOutOfRangeException(nameof(name), $"Validation label column '{name}' has '{value}' at row {row}, a class the training data does not have."));
    }
}
