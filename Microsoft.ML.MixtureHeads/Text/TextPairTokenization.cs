using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Text;

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

    internal const string FirstTextColumn = "__MoH_FirstText";
    internal const string SecondTextColumn = "__MoH_SecondText";

    /// <inheritdoc />
    public override Action<TextPairToTokenizeRow, TokenIdsRow> GetMapping() => Tokenize;

    private static void Tokenize(TextPairToTokenizeRow input, TokenIdsRow output) => output.Ids = TextTokenIds.EncodePair(input.First, input.Second);
}
