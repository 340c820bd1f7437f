using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>Input row of the text tokenization stage.</summary>
public sealed class TextToTokenizeRow
{
    /// <summary>The text, copied here from the user's text column.</summary>
    [ColumnName(TextTokenization.TextColumn)]
    public string? Text { get; set; }
}

/// <summary>
/// Text to token ids (<see cref="TextTokenIds.Encode"/>). It is stateless, so a saved model records only this
/// contract name and assembly, and <c>mlContext.Model.Load</c> finds it again by itself; every piece of state
/// (vocabulary, maximum length) lives in the model's ONNX graph.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class TextTokenization : CustomMappingFactory<TextToTokenizeRow, TokenIdsRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.TokenizeText";

    /// <summary>The column the stage reads: a copy of the user's text column.</summary>
    public const string TextColumn = "__MoH_Text";

    /// <summary>The column the tokenization stages write: the token ids.</summary>
    public const string TokenIdsColumn = "__MoH_TokenIds";

    /// <inheritdoc />
    public override Action<TextToTokenizeRow, TokenIdsRow> GetMapping() => Tokenize;

    private static void Tokenize(TextToTokenizeRow input, TokenIdsRow output) => output.Ids = TextTokenIds.Encode(input.Text);
}
