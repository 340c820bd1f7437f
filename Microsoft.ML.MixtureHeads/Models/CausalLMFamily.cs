using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The <see cref="MoHCausalLM"/> family and its registered sizes, <c>moh_lm_{size}_{active head %}[_{ffn}]</c>. The
/// expert variants are the 2411.16205 FLOPs-parity set (<see cref="MoEPresets"/>) scaled down as specs/mhmoe.md
/// section 5 derives it: dense SwiGLU hidden d_moe = 8d/3, experts every second block.
/// </summary>
internal sealed class CausalLMFamily : ModelFamily<CausalLMConfig>
{
    /// <summary>d = 96, 4 layers, 4 heads of 24, d_moe = 256: the spec's CPU smoke size.</summary>
    private static readonly CausalLMConfig Tiny = new()
    {
        Dim = 96, Depth = 4, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 256.0 / 96, MaxLength = 256, MoEInterval = 2,
    };

    /// <summary>d = 192, 6 layers, 8 heads of 24, d_moe = 512.</summary>
    private static readonly CausalLMConfig Small = new()
    {
        Dim = 192, Depth = 6, Heads = 8, SharedHeads = 2, RoutedTopK = 4, MlpRatio = 512.0 / 192, MaxLength = 512, MoEInterval = 2,
    };

    public override string Kind => MoHCausalLM.KindName;

    protected override IMixtureHeadsNetwork Create(CausalLMConfig config) => new MoHCausalLM(config);

    public override IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs
    {
        get
        {
            var names = new Dictionary<string, ModelConfig>();
            const long tinyMoe = 256, smallMoe = 512;
            int active = Tiny.ActiveHeadPercent;
            names["moh_lm_tiny_100"] = Tiny.Dense();
            names[$"moh_lm_tiny_{active}"] = Tiny;
            names[$"moh_lm_tiny_{active}_pf"] = Tiny with { Routing = HeadRouting.ParameterFree };
            names[$"moh_lm_tiny_{active}_smoe"] = Experts(Tiny, MoEPresets.SparseMoE(Tiny.Dim, tinyMoe));
            names[$"moh_lm_tiny_{active}_fgmoe"] = Experts(Tiny, MoEPresets.FineGrained(Tiny.Dim, tinyMoe));
            names[$"moh_lm_tiny_{active}_mhmoe2"] = Experts(Tiny, MoEPresets.MultiHead(Tiny.Dim, tinyMoe, heads: 2));
            names[$"moh_lm_tiny_{active}_mhmoe3"] = Experts(Tiny, MoEPresets.MultiHead(Tiny.Dim, tinyMoe, heads: 3));
            names[$"moh_lm_tiny_{active}_mhmoe2_bitnet"] = Experts(Tiny, MoEPresets.MultiHead(Tiny.Dim, tinyMoe, heads: 2) with { ExpertLinear = LinearKind.BitLinear })
                with { Linear = LinearKind.BitLinear };
            names["moh_lm_small_100"] = Small.Dense();
            names[$"moh_lm_small_{Small.ActiveHeadPercent}"] = Small;
            names[$"moh_lm_small_{Small.ActiveHeadPercent}_mhmoe3"] = Experts(Small, MoEPresets.MultiHead(Small.Dim, smallMoe, heads: 3));
            return names;
        }
    }

    private static CausalLMConfig Experts(CausalLMConfig config, MultiHeadMoEOptions moe) =>
        config with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = moe };
}
