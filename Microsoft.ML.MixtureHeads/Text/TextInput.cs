using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// Builds the ML.NET stages that turn a user's text column (or two, for sentence pairs) into the token id column
/// the model reads: the text is copied to the fixed column the stateless tokenization stage reads, then tokenized.
/// The same stages run for training and inside the saved model.
/// </summary>
internal static class TextInput
{
    /// <summary>The stages for one text column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is not text.</exception>
    public static (IEstimator<ITransformer> Stages, string TokenIdsColumnName, string[] TemporaryColumns) Stages(
        MLContext mlContext, DataViewSchema.Column text)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireText(text);
        var stages = mlContext.Transforms.CopyColumns(TextTokenization.TextColumn, text.Name)
            .Append(mlContext.Transforms.CustomMapping(new TextTokenization().GetMapping(), TextTokenization.ContractName));
        return (stages, TextTokenization.TokenIdsColumn, [TextTokenization.TextColumn, TextTokenization.TokenIdsColumn]);
    }

    /// <summary>The stages for one text column read as bytes (<see cref="ByteTokenization"/>), for a classifier started from a byte-level LM.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is not text.</exception>
    public static (IEstimator<ITransformer> Stages, string TokenIdsColumnName, string[] TemporaryColumns) ByteStages(
        MLContext mlContext, DataViewSchema.Column text)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireText(text);
        var stages = mlContext.Transforms.CopyColumns(TextTokenization.TextColumn, text.Name)
            .Append(mlContext.Transforms.CustomMapping(new ByteTokenization().GetMapping(), ByteTokenization.ContractName));
        return (stages, TextTokenization.TokenIdsColumn, [TextTokenization.TextColumn, TextTokenization.TokenIdsColumn]);
    }

    /// <summary>The stages for a sentence pair: <paramref name="first"/>, then <paramref name="second"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is not text.</exception>
    public static (IEstimator<ITransformer> Stages, string TokenIdsColumnName, string[] TemporaryColumns) Stages(
        MLContext mlContext, DataViewSchema.Column first, DataViewSchema.Column second)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RequireText(first);
        RequireText(second);
        var stages = mlContext.Transforms.CopyColumns(TextPairTokenization.FirstTextColumn, first.Name)
            .Append(mlContext.Transforms.CopyColumns(TextPairTokenization.SecondTextColumn, second.Name))
            .Append(mlContext.Transforms.CustomMapping(new TextPairTokenization().GetMapping(), TextPairTokenization.ContractName));
        return (stages, TextTokenization.TokenIdsColumn,
            [TextPairTokenization.FirstTextColumn, TextPairTokenization.SecondTextColumn, TextTokenization.TokenIdsColumn]);
    }

    private static void RequireText(DataViewSchema.Column column)
    {
        if (column.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(column), $"Text column '{column.Name}' has type {column.Type}; expected String (text).");
    }
}
