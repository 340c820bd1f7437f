using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The <see cref="MoHTextEncoder"/> family and its registered sizes (<c>moh_text_{size}_{active head %}</c>).</summary>
internal sealed class TextEncoderFamily : ModelFamily<TextEncoderConfig>
{
    private static readonly TextEncoderConfig Tiny = new() { Dim = 128, Depth = 2, Heads = 8, MlpRatio = 2, MaxLength = 256 };
    private static readonly TextEncoderConfig TinyMoH = Tiny with { SharedHeads = 2, RoutedTopK = 4 };

    public override string Kind => MoHTextEncoder.KindName;

    /// <summary>An encoder with an empty vocabulary of the config's size, to be loaded with trained weights.</summary>
    protected override IMixtureHeadsNetwork Create(TextEncoderConfig config) => new MoHTextEncoder(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => new Dictionary<string, ModelConfig>
    {
        ["moh_text_tiny_100"] = Tiny.Dense(),
        ["moh_text_tiny_75"] = TinyMoH,
        ["moh_text_tiny_50"] = Tiny with { SharedHeads = 2, RoutedTopK = 2 },
        ["moh_text_tiny_75_mhmoe"] = TinyMoH with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = TransformerConfig.TinyMultiHeadMoE },
        ["moh_text_tiny_75_bitnet"] = TinyMoH with
        {
            Linear = LinearKind.BitLinear,
            FeedForward = FeedForwardKind.MultiHeadMoE,
            MoE = TransformerConfig.TinyMultiHeadMoE with { ExpertLinear = LinearKind.BitLinear },
        },
    };
}
