using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>The real SpamAssassin corpus, read once for all text tests, and cl100k decoding of stage ids.</summary>
internal static class SpamMails
{
    private static readonly Lazy<IReadOnlyList<SpamAssassinMessage>> All = new(() => SpamAssassin.Read());

    public static IReadOnlyList<SpamAssassinMessage> Messages => All.Value;

    /// <summary>The text cl100k gives back for stage token ids (markers are not text and must not be passed).</summary>
    public static string Decode(IEnumerable<long> stageIds) =>
        TextTokenIds.Cl100k.Decode(stageIds.Select(id => checked((int)(id - TextTokenIds.Offset))));
}
