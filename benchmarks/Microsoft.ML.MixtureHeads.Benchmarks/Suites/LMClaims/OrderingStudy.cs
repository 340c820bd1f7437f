using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>One feed-forward variant of the ordering study, with its perplexity over seeds.</summary>
internal sealed record OrderingRow(string Name, CausalLMConfig Config, long Parameters, long FfnFlopsPerToken, SeedStatistics Perplexity);

/// <summary>
/// 2411.16205's headline at small scale: perplexity of dense SwiGLU, SMoE, fine-grained SMoE and MH-MoE h = 2, 3 (the
/// FLOPs-parity presets of <see cref="MoEPresets"/>, experts every second block, MoH-75 attention in every variant),
/// each with full-precision and BitNet b1.58 linear layers, trained for the same steps from several seeds.
/// </summary>
internal static class OrderingStudy
{
    /// <summary>The paper's order, worst to best: SMoE 10.90 > fine-grained 10.74 > MH-MoE h=2 10.70 > h=3 10.51.</summary>
    public static readonly string[] PaperOrder = ["smoe", "fgmoe", "mhmoe2", "mhmoe3"];

    public static IEnumerable<(string Name, CausalLMConfig Config)> Variants()
    {
        foreach (string ffn in new[] { "dense", "smoe", "fgmoe", "mhmoe2", "mhmoe3" })
        {
            var config = ModelRegistry.Get<CausalLMConfig>(ffn == "dense" ? "moh_lm_tiny_75" : $"moh_lm_tiny_75_{ffn}");
            yield return (ffn, config);
            yield return (ffn + " + BitNet", config with
            {
                Linear = LinearKind.BitLinear,
                MoE = config.MoE is { } moe ? moe with { ExpertLinear = LinearKind.BitLinear } : null,
            });
        }
    }

    /// <summary>Trains every variant from every seed; <paramref name="keep"/> receives each trained model (it disposes them).</summary>
    public static List<OrderingRow> Run(LMRecipe recipe, IReadOnlyList<int> seeds, Action<string, int, LMRunResult> keep)
    {
        var rows = new List<OrderingRow>();
        foreach (var (name, config) in Variants())
        {
            var perplexities = new List<double>();
            long parameters = 0;
            foreach (int seed in seeds)
            {
                var model = LMRecipe.Create(config, seed);
                parameters = model.parameters().Sum(p => p.numel());
                var result = recipe.Train(model, seed, name);
                perplexities.Add(result.Perplexity);
                keep(name, seed, result);
            }
            long flops = config.MoE is { } moe ? MoEPresets.FlopsPerToken(moe) : MoEPresets.DenseFlopsPerToken(config.Dim, (long)Math.Round(config.Dim * config.MlpRatio));
            rows.Add(new OrderingRow(name, config, parameters, flops, new SeedStatistics(perplexities)));
        }
        return rows;
    }

    /// <summary>Whether the mean perplexities follow the paper's order, and whether each neighbouring gap is wider than
    /// the two spreads (sd) together, for the full-precision or the BitNet rows.</summary>
    public static string Verdict(IReadOnlyList<OrderingRow> rows, bool bitNet)
    {
        string suffix = bitNet ? " + BitNet" : "";
        var ordered = PaperOrder.Select(n => rows.Single(r => r.Name == n + suffix)).ToList();
        var steps = new List<string>();
        bool holds = true;
        for (int i = 0; i + 1 < ordered.Count; i++)
        {
            var (worse, better) = (ordered[i], ordered[i + 1]);
            double gap = worse.Perplexity.Mean - better.Perplexity.Mean;
            double spread = worse.Perplexity.StandardDeviation + better.Perplexity.StandardDeviation;
            holds &= gap > 0;
            string clear = gap > spread ? "beyond the spread" : "within the spread";
            steps.Add(FormattableString.Invariant($"{worse.Name} → {better.Name}: {gap:+0.000;-0.000} ({clear}, sd sum {spread:F3})"));
        }
        return $"{(bitNet ? "BitNet" : "Full precision")}: the paper's order {(holds ? "holds" : "does not hold")} in the means; " + string.Join("; ", steps) + ".";
    }
}
