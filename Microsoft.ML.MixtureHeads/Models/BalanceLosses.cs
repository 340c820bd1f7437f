using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>How a model combines its layers' balance losses (specs: MoH averages over its routed layers, MH-MoE sums).</summary>
internal static class BalanceLosses
{
    /// <summary>mean(attention losses) + sum(expert losses); null when there are none (eval mode or no routing).</summary>
    public static Tensor? Combine(IReadOnlyList<Tensor> attention, IReadOnlyList<Tensor> experts)
    {
        Tensor? total = attention.Count == 0 ? null : stack(attention).mean();
        if (experts.Count > 0) total = total is null ? stack(experts).sum() : total + stack(experts).sum();
        return total;
    }
}
