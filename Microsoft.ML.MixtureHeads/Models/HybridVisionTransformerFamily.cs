namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The <see cref="MoHHybridVisionTransformer"/> family (<c>moh_hybrid_resnet18_{active head %}</c>): MoH blocks on
/// ImageNet ResNet-18 features, for small image sets.</summary>
internal sealed class HybridVisionTransformerFamily : ModelFamily<HybridVisionTransformerConfig>
{
    // The last stage fine-tunes: on 300 Fashion-MNIST images it gave 86.3% where the frozen trunk gave 78.0% (docs/decisions.md).
    private static readonly HybridVisionTransformerConfig Base = new() { Dim = 192, Depth = 2, Heads = 8, MlpRatio = 2, TrainableTrunkStages = 1 };

    public override string Kind => MoHHybridVisionTransformer.KindName;

    protected override IMixtureHeadsNetwork Create(HybridVisionTransformerConfig config) => new MoHHybridVisionTransformer(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => new Dictionary<string, ModelConfig>
    {
        ["moh_hybrid_resnet18_100"] = Base.Dense(),
        ["moh_hybrid_resnet18_75"] = Base with { SharedHeads = 2, RoutedTopK = 4 },
        ["moh_hybrid_resnet18_50"] = Base with { SharedHeads = 2, RoutedTopK = 2 },
    };
}
