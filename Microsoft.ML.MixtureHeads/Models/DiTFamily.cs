namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The <see cref="MoHDiT"/> family and its registered sizes, <c>moh_dit_{size}_{active head %}</c>, sized to train on
/// 2 CPU cores on 28 x 28 x 1 images: dense DiT, MoH-90 (the deepest block dense, as the paper's MoH-DiT-90) and MoH-75.
/// </summary>
internal sealed class DiTFamily : ModelFamily<DiTConfig>
{
    // 49 tokens of 4 x 4 patches, width 128, 4 blocks of 8 heads of 16.
    private static readonly DiTConfig Tiny = new() { Dim = 128, Depth = 4, Heads = 8, MlpRatio = 4 };

    public override string Kind => MoHDiT.KindName;

    protected override IMixtureHeadsNetwork Create(DiTConfig config) => new MoHDiT(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => new Dictionary<string, ModelConfig>
    {
        ["moh_dit_tiny_100"] = Tiny.Dense(),
        // blocks 0-2: 4 shared + top-3 of 4 routed (7 of 8), block 3 dense: 29 of 32 heads = 90.6%.
        ["moh_dit_tiny_90"] = Tiny with { SharedHeads = 4, RoutedTopK = 3, DenseLastBlocks = 1 },
        // every block: 3 shared + top-3 of 5 routed = 6 of 8 heads = 75%.
        ["moh_dit_tiny_75"] = Tiny with { SharedHeads = 3, RoutedTopK = 3 },
    };
}
