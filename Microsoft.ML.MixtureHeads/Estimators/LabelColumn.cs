using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>Checks and reads a key-typed label column.</summary>
internal static class LabelColumn
{
    private const string KeyValuesKind = "KeyValues";

    /// <summary>The label column, checked: it exists and is a key type.</summary>
    /// <param name="schema">The data's schema.</param>
    /// <param name="name">The label column.</param>
    /// <param name="dataSet">"training" or "validation", for messages.</param>
    public static DataViewSchema.Column Check(DataViewSchema schema, string name, string dataSet = "training")
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' not found in the {dataSet} data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is not KeyDataViewType key || key.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' of the {dataSet} data has type {column.Type}; expected a key type (Key<UInt32>). Use mlContext.Transforms.Conversion.MapValueToKey(\"{name}\").");
        return column;
    }

    /// <summary>Fails unless the checked label column has at least two classes (call once the data is known to have rows).</summary>
    public static void RequireClasses(DataViewSchema.Column column)
    {
        ulong count = ((KeyDataViewType)column.Type).Count;
        if (count < 2)
            throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column.Name}' has {count} class; a classifier needs at least 2.");
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

    /// <summary>A reader of the 0-based class index at the cursor's row, from the key column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">(from the reader) A row has a missing key (value 0).</exception>
    public static Func<long> KeyReader(DataViewRowCursor cursor, string name, string dataSet)
    {
        var getter = cursor.GetGetter<uint>(cursor.Schema[name]);
        uint key = 0;
        return () =>
        {
            getter(ref key);
            return key != 0 ? key - 1
                : throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' of the {dataSet} data has a missing value at row {cursor.Position}; every row needs a class.");
        };
    }

    /// <summary>
    /// How to read the 0-based class index of a validation row in the training classes' order: its label is either a
    /// key type with the same classes in the same order, or text holding the class names.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The label column is missing, of another type or has other classes; (from the
    /// reader) a row names an unknown class.</exception>
    public static Func<DataViewRowCursor, Func<long>> ValidationReader(DataViewSchema schema, string name, IReadOnlyList<string> classNames)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' not found in the validation data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is KeyDataViewType)
        {
            Check(schema, name, "validation");
            var validationClasses = ClassNames(column);
            if (!validationClasses.SequenceEqual(classNames))
                throw new ArgumentOutOfRangeException(nameof(name),
                    $"Label column '{name}' of the validation data has the classes [{string.Join(", ", validationClasses)}] but the training data [{string.Join(", ", classNames)}]. " +
                    "Pass the validation set with its raw labels, or map both with the same fitted MapValueToKey transformer.");
            return cursor => KeyReader(cursor, name, "validation");
        }
        if (column.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' of the validation data has type {column.Type}; expected the class names as text or the training data's key type.");

        var indexOf = classNames.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        return cursor =>
        {
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(cursor.Schema[name]);
            ReadOnlyMemory<char> value = default;
            return () =>
            {
                getter(ref value);
                return indexOf.TryGetValue(value.ToString(), out long index) ? index
                    : throw new ArgumentOutOfRangeException(nameof(name), $"Label column '{name}' of the validation data has '{value}' at row {cursor.Position}, a class the training data does not have.");
            };
        };
    }
}
