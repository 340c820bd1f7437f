namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The pretrained encoders a <see cref="BertEncoderConfig.Pretrained"/> may name (the weights are read by
/// <see cref="Persistence.PretrainedEncoders"/>).</summary>
public static class PretrainedEncoderNames
{
    /// <summary>sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0): 6 layers, 384 wide, 12 heads, bert-base-uncased vocabulary.</summary>
    public const string AllMiniLML6V2 = "all-MiniLM-L6-v2";

    /// <summary>Every known name.</summary>
    public static IReadOnlyList<string> All { get; } = [AllMiniLML6V2];

    /// <summary>Whether <paramref name="name"/> is a known pretrained encoder.</summary>
    public static bool IsKnown(string name) => All.Contains(name, StringComparer.Ordinal);
}
