using System.Text;
using Microsoft.ML.MixtureHeads.Generation;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// Byte-level tokenization for a language model: the UTF-8 bytes of a text are ids 0..255, and id 256 marks the end
/// of a text (documents are separated by it when packed). Needs no vocabulary, so a model of
/// <see cref="VocabularySize"/> ids reads any text.
/// </summary>
public sealed class ByteTokenizer : ITokenCodec
{
    /// <summary>The end-of-text id.</summary>
    public const long EndOfText = 256;

    /// <summary>Ids in use: the 256 bytes and <see cref="EndOfText"/>.</summary>
    public const int VocabularySize = 257;

    /// <inheritdoc />
    public IReadOnlyList<long> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Array.ConvertAll(Encoding.UTF8.GetBytes(text), b => (long)b);
    }

    /// <summary>The UTF-8 text of the byte ids; <see cref="EndOfText"/> is left out, an incomplete or invalid byte sequence decodes to U+FFFD.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative or above <see cref="EndOfText"/>.</exception>
    public string Decode(IEnumerable<long> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (long id in ids)
        {
            if (id is < 0 or > EndOfText) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Byte token ids lie in [0, {EndOfText}].");
            if (id != EndOfText) bytes.Add((byte)id);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
