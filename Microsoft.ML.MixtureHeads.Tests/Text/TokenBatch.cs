using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

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
        ArgumentNullException.ThrowIfNull(vocabulary);
        using var stageIds = StageIds(rows, maxLength);
        var ids = stageIds.data<long>().ToArray();
        vocabulary.Map(ids, ids);   // padding maps to padding
        return tensor(ids, stageIds.shape);
    }

    /// <summary>
    /// Int64 [N, L] stage ids, L = min(longest row, <paramref name="maxLength"/>): each row keeps its first L ids and
    /// is padded with <see cref="TextTokenIds.Padding"/>. A text network maps them itself (<see cref="VocabularyLookup"/>).
    /// </summary>
    public static Tensor StageIds(IReadOnlyList<long[]> rows, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        int length = rows.Count == 0 ? 0 : Math.Min(rows.Max(r => r.Length), maxLength);
        var ids = new long[rows.Count * length];   // zero = Padding
        for (int i = 0; i < rows.Count; i++)
            rows[i].AsSpan(0, Math.Min(rows[i].Length, length)).CopyTo(ids.AsSpan(i * length));
        return tensor(ids, [rows.Count, length]);
    }

    /// <summary>The non-padding ids of each row of a [N, L] stage-id tensor.</summary>
    public static IEnumerable<long[]> Rows(Tensor stageIds)
    {
        long length = stageIds.shape[1];
        long[] all = stageIds.cpu().data<long>().ToArray();
        for (long i = 0; i < stageIds.shape[0]; i++)
            yield return all.AsSpan((int)(i * length), (int)length).ToArray().Where(id => id != TextTokenIds.Padding).ToArray();
    }
}
