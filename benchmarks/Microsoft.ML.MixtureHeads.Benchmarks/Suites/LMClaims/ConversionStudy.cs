using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>One continuation of the conversion study: perplexity right after conversion and along continued training, per seed.</summary>
internal sealed record ConversionArm(string Name, int ActivePercent, SeedStatistics AfterConversion, SeedStatistics AfterContinuation, IReadOnlyList<IReadOnlyList<PerplexityPoint>> Curves);

/// <summary>The dense start and the arms that continue from it.</summary>
internal sealed record ConversionResult(SeedStatistics DensePerplexity, IReadOnlyList<ConversionArm> Arms);

/// <summary>
/// The MoH-LLaMA3 recipe at small scale (specs/moh.md section 7): train a dense LM, convert its attention to MoH with
/// the first head shared and a parameter-free router on query norms (binary gates, straight-through), at 75 % and 50 %
/// active heads, and continue training; against continuing the dense model for the same steps.
/// </summary>
internal static class ConversionStudy
{
    public static ConversionResult Run(LMRecipe pretraining, LMRecipe continuation, IReadOnlyList<int> seeds)
    {
        var dense = ModelRegistry.Get<CausalLMConfig>("moh_lm_tiny_100");
        var arms = new (string Name, int Percent, CausalLMConfig? Config)[]
        {
            ("dense, continued", 100, null),
            ("MoH-75 (1 shared + top-2 of 3), parameter-free", 75, Converted(dense, topK: 2)),
            ("MoH-50 (1 shared + top-1 of 3), parameter-free", 50, Converted(dense, topK: 1)),
        };
        var densePerplexities = new List<double>();
        var after = arms.Select(_ => new List<double>()).ToArray();
        var final = arms.Select(_ => new List<double>()).ToArray();
        var curves = arms.Select(_ => new List<IReadOnlyList<PerplexityPoint>>()).ToArray();
        foreach (int seed in seeds)
        {
            using var pretrained = LMRecipe.Create(dense, seed);
            densePerplexities.Add(pretraining.Train(pretrained, seed, "dense pretraining").Perplexity);
            var weights = pretrained.state_dict();
            for (int a = 0; a < arms.Length; a++)
            {
                using var model = LMRecipe.Create(arms[a].Config ?? dense, seed);
                model.load_state_dict(weights);   // the parameter-free router adds no parameter: the same names and shapes
                var run = continuation.Train(model, seed, arms[a].Name);   // its curve starts right after conversion
                after[a].Add(run.Curve[0].Perplexity);
                final[a].Add(run.Perplexity);
                curves[a].Add(run.Curve);
            }
        }
        return new ConversionResult(new SeedStatistics(densePerplexities),
            arms.Select((arm, a) => new ConversionArm(arm.Name, arm.Percent, new SeedStatistics(after[a]), new SeedStatistics(final[a]), curves[a])).ToList());
    }

    private static CausalLMConfig Converted(CausalLMConfig dense, int topK) =>
        dense with { Routing = HeadRouting.ParameterFree, SharedHeads = 1, RoutedTopK = topK };
}
