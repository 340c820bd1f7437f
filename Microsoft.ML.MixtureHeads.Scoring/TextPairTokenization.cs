using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>Input row of the sentence-pair tokenization stage.</summary>
public sealed class TextPairToTokenizeRow
{
    /// <summary>The first text, copied here from the user's first text column.</summary>
    [ColumnName(TextPairTokenization.FirstTextColumn)]
    public string? First { get; set; }

    /// <summary>The second text, copied here from the user's second text column.</summary>
    [ColumnName(TextPairTokenization.SecondTextColumn)]
    public string? Second { get; set; }
}

/// <summary>
/// A sentence pair to token ids <c>[Start] a... [Separator] b...</c> (<see cref="TextTokenIds.EncodePair"/>).
/// Stateless, like <see cref="TextTokenization"/>, so saved models find it again by its contract name.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class TextPairTokenization : CustomMappingFactory<TextPairToTokenizeRow, TokenIdsRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.TokenizeTextPair";

    /// <summary>The column the stage reads the first text from: a copy of the user's first text column.</summary>
    public const string FirstTextColumn = "__MoH_FirstText";

    /// <summary>The column the stage reads the second text from.</summary>
    public const string SecondTextColumn = "__MoH_SecondText";

    /// <inheritdoc />
    public override Action<TextPairToTokenizeRow, TokenIdsRow> GetMapping() => Tokenize;

    private static void Tokenize(TextPairToTokenizeRow input, TokenIdsRow output) => output.Ids = TextTokenIds.EncodePair(input.First, input.Second);
}
