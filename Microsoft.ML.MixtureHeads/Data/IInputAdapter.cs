using Microsoft.ML.MixtureHeads.Training;
namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// How a network reads one input column: a row's value copied out of a cursor (checked, naming the column, the row
/// and the data set) and rows collated into a batch. The same adapter builds training batches and ONNX Runtime
/// scoring batches, so the two cannot disagree.
/// </summary>
/// <typeparam name="TRow">One row's value as the adapter keeps it (a pixel array, token ids, ...).</typeparam>
internal interface IInputAdapter<TRow>
{
    /// <summary>The column read (also the ONNX graph input's name).</summary>
    string Column { get; }

    /// <summary>A reader of the column's value at the cursor's current row.</summary>
    /// <param name="cursor">A cursor with the column active.</param>
    /// <param name="dataSet">"training", "validation", "scoring", ... for error messages.</param>
    /// <exception cref="InvalidDataException">(from the reader) A row's value does not fit the model, naming the column, row and data set.</exception>
    Func<TRow> CreateReader(DataViewRowCursor cursor, string dataSet);

    /// <summary>Memory a kept row takes, for the in-memory cache budget.</summary>
    long SizeInBytes(TRow row);

    /// <summary>A row's length when rows vary in length (so batches of similar rows pad less), else null.</summary>
    Func<TRow, int>? LengthOf { get; }

    /// <summary>The rows as one batch, [rows, ...].</summary>
    HostTensor Collate(IReadOnlyList<TRow> rows);
}
