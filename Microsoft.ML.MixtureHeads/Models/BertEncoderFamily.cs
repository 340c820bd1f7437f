using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The <see cref="BertEncoder"/> family: all-MiniLM-L6-v2 as it is (<c>minilm_l6</c>) and converted to MoH
/// (<c>moh_minilm_l6_{active head %}</c>: the first heads shared, the parameter-free query-norm router of the
/// MoH-LLaMA3 conversion with binary gates; <c>_learned</c>: learned routers instead). Each starts from the
/// pretrained weights.
/// </summary>
internal sealed class BertEncoderFamily : ModelFamily<BertEncoderConfig>
{
    private static readonly BertEncoderConfig MiniLM = new() { Pretrained = PretrainedEncoderNames.AllMiniLML6V2 };

    public override string Kind => BertEncoder.KindName;

    protected override IMixtureHeadsNetwork Create(BertEncoderConfig config) => new BertEncoder(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => new Dictionary<string, ModelConfig>
    {
        ["minilm_l6"] = MiniLM,
        ["moh_minilm_l6_75"] = MiniLM with { Routing = HeadRouting.ParameterFree, SharedHeads = 6, RoutedTopK = 3 },
        ["moh_minilm_l6_50"] = MiniLM with { Routing = HeadRouting.ParameterFree, SharedHeads = 4, RoutedTopK = 2 },
        ["moh_minilm_l6_75_learned"] = MiniLM with { Routing = HeadRouting.Learned, SharedHeads = 6, RoutedTopK = 3 },
    };
}
