using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>Per layer, the share of tokens each routed head serves and the share of routed assignments each expert receives.</summary>
/// <param name="HeadUsage">[layer][routed head]: fraction of tokens whose gate for the head is nonzero.</param>
/// <param name="ExpertLoad">[expert layer][expert]: fraction of the layer's (sub-token, choice) assignments.</param>
internal sealed record RoutingUsage(IReadOnlyList<double[]> HeadUsage, IReadOnlyList<double[]> ExpertLoad)
{
    /// <summary>Coefficient of variation (sd / mean) of the expert loads over all expert layers: 0 is perfectly even.</summary>
    public double ExpertImbalance => Imbalance(ExpertLoad);

    /// <summary>Coefficient of variation of the routed-head usage over all attention layers.</summary>
    public double HeadImbalance => Imbalance(HeadUsage);

    private static double Imbalance(IReadOnlyList<double[]> layers) => layers.Count == 0 ? 0 : layers.Average(values =>
    {
        double mean = values.Average();
        return mean == 0 ? 0 : Math.Sqrt(values.Average(v => (v - mean) * (v - mean))) / mean;
    });
}

/// <summary>Measures <see cref="RoutingUsage"/> of a trained model on the validation windows.</summary>
internal static class UsageStudy
{
    public static RoutingUsage Measure(MoHCausalLM model, IReadOnlyList<long> tokens, int window, int windows = 64)
    {
        var layers = model.blocks.Select(b => b.moe).ToList();
        var expertLayers = layers.Where(m => m is not null).Select(m => m!).ToList();
        var expertRows = expertLayers.Select(m => new double[m.Options.Experts]).ToList();
        for (int l = 0; l < expertLayers.Count; l++)
        {
            var counts = expertRows[l];
            expertLayers[l].ExpertGroupComputed = (group, _) =>
            {
                for (int i = 0; i < group.Experts.Length; i++) counts[group.Experts[i]] += group.Rows[i];
            };
        }
        int shared = model.Config.SharedHeads;
        double[][]? headCounts = null;
        long tokensSeen = 0;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            int available = Math.Min(windows, (tokens.Count - 1) / window);
            for (int start = 0; start < available; start += 16)
            {
                using var scope = NewDisposeScope();
                int rows = Math.Min(16, available - start);
                var ids = tensor(Enumerable.Range(start, rows).SelectMany(w => tokens.Skip(w * window).Take(window)).ToArray()).reshape(rows, window);
                var gates = model.forward(ids).HeadGates;                                   // per layer [B, N, H]
                headCounts ??= gates.Select(g => new double[g.shape[2] - shared]).ToArray();
                for (int l = 0; l < gates.Count; l++)
                {
                    var used = gates[l].narrow(2, shared, gates[l].shape[2] - shared).gt(0).to(ScalarType.Float64).sum([0, 1]).data<double>().ToArray();
                    for (int h = 0; h < used.Length; h++) headCounts[l][h] += used[h];
                }
                tokensSeen += rows * window;
            }
        }
        finally
        {
            foreach (var layer in expertLayers) layer.ExpertGroupComputed = null;
            if (wasTraining) model.train();
        }
        var heads = (headCounts ?? []).Select(l => l.Select(c => c / tokensSeen).ToArray()).ToList();
        var experts = expertRows.Select(l => l.Select(c => c / Math.Max(1, l.Sum())).ToArray()).ToList();
        return new RoutingUsage(heads, experts);
    }
}
