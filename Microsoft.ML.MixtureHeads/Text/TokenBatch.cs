using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>Rows of stage token ids to the padded compact-id tensor a text model trains on: the same truncation
/// and mapping the exported graph applies (<see cref="TokenInputOnnx"/>).</summary>
internal static class TokenBatch
{
    /// <summary>
    /// Int64 [N, L] compact ids, L = min(longest row, <paramref name="maxLength"/>): each row keeps its first L ids,
    /// mapped through <paramref name="vocabulary"/>, and is padded with <see cref="CompactVocabulary.Padding"/>.
    /// The key-padding mask is <c>ids != Padding</c>.
    /// </summary>
    public static Tensor CompactIds(IReadOnlyList<long[]> rows, CompactVocabulary vocabulary, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        int length = rows.Count == 0 ? 0 : Math.Min(rows.Max(r => r.Length), maxLength);
        var ids = new long[rows.Count * length];   // zero = Padding
        for (int i = 0; i < rows.Count; i++)
        {
            int kept = Math.Min(rows[i].Length, length);
            vocabulary.Map(rows[i].AsSpan(0, kept), ids.AsSpan(i * length, kept));
        }
        return tensor(ids, [rows.Count, length]);
    }
}
