namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>Turns text into a language model's token ids and back (e.g. <see cref="Text.ByteTokenizer"/>).</summary>
public interface ITokenCodec
{
    /// <summary>The ids of <paramref name="text"/>.</summary>
    IReadOnlyList<long> Encode(string text);

    /// <summary>The text of <paramref name="ids"/>; ids that stand for no text (markers) are left out.</summary>
    string Decode(IEnumerable<long> ids);
}
