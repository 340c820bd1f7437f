using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>
/// Text to byte-level token ids for a classifier started from a byte-level language model: the end-of-text marker
/// first (so a text reads as it did after the documents before it in pretraining), then the UTF-8 bytes; every id is
/// shifted by one so that 0 stays free for padding (<see cref="EndOfText"/> + 1, then byte + 1). Stateless, like
/// <see cref="TextTokenization"/>: a saved model records only the contract name.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ByteTokenization : CustomMappingFactory<TextToTokenizeRow, TokenIdsRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.TokenizeBytes";

    /// <summary>The language model's end-of-text id (bytes are 0..255).</summary>
    public const long EndOfText = 256;

    /// <summary>The ids of <paramref name="text"/>: <see cref="EndOfText"/> + 1, then each UTF-8 byte + 1 (null reads as empty).</summary>
    public static long[] Encode(string? text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text ?? "");
        var ids = new long[bytes.Length + 1];
        ids[0] = EndOfText + 1;
        for (int i = 0; i < bytes.Length; i++) ids[i + 1] = bytes[i] + 1L;
        return ids;
    }

    /// <inheritdoc />
    public override Action<TextToTokenizeRow, TokenIdsRow> GetMapping() => (input, output) => output.Ids = Encode(input.Text);
}
