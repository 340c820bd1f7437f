using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Grouped dispatch: each expert computes exactly its routed rows, and the result is the naive masked sum.</summary>
public sealed class MoEDispatchTests
{
    private static readonly long[] InputShape = [4, 16, 12];

    public static TheoryData<long, long, long, bool> Configurations => new()
    {
        { 1, 6, 1, false }, { 1, 8, 2, false }, { 2, 8, 2, false }, { 3, 9, 3, false }, { 3, 9, 3, true }, { 2, 8, 2, true },
    };

    private static MultiHeadMoEOptions Options(long heads, long experts, long topK, bool bitLinear) => new()
    {
        Dim = 12, Heads = heads, Experts = experts, TopK = topK, ExpertHidden = 10,
        ExpertLinear = bitLinear ? LinearKind.BitLinear : LinearKind.Dense,
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Each_expert_computes_exactly_its_routed_rows(long heads, long experts, long topK, bool bitLinear)
    {
        using var scope = NewDisposeScope();
        var options = Options(heads, experts, topK, bitLinear);
        var (layer, x) = MoECases.Create(options, InputShape, seed: 7);
        var routed = MoECases.RouterProbabilities(layer, x).topk((int)topK, -1).indexes.reshape(-1).bincount(null, experts).data<long>().ToArray();

        var computed = new long[experts];
        var seen = new int[experts];
        long bufferRows = 0;
        layer.ExpertGroupComputed = (group, batchShape) =>
        {
            Assert.Equal([group.Experts.Length, group.Capacity, options.SubTokenDim], batchShape);
            Assert.Equal(group.Capacity, group.Rows.Max());
            for (int i = 0; i < group.Experts.Length; i++)
            {
                computed[group.Experts[i]] += group.Rows[i];
                seen[group.Experts[i]]++;
            }
            bufferRows += group.BufferRows;
        };
        layer.forward(x);

        Assert.Equal(routed, computed);
        for (int e = 0; e < experts; e++) Assert.Equal(routed[e] > 0 ? 1 : 0, seen[e]);   // once, and only if it has rows
        long assignments = routed.Sum();
        double overheadRows = DispatchPlan.GroupOverheadMacs / (3.0 * options.SubTokenDim * options.ExpertHidden);
        Assert.True(bufferRows <= assignments + overheadRows * routed.Count(r => r > 0),
            $"{bufferRows} rows computed for {assignments} assignments: more padding than the grouping allows");
        Assert.True(bufferRows < experts * assignments / topK, "grouped dispatch degenerated into a dense all-experts compute");
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Grouped_dispatch_equals_every_expert_on_every_sub_token_masked(long heads, long experts, long topK, bool bitLinear)
    {
        using var scope = NewDisposeScope();
        var options = Options(heads, experts, topK, bitLinear);
        var (layer, x) = MoECases.Create(options, InputShape, seed: 11);
        var upstream = randn(InputShape);

        var grouped = Run(layer, x, upstream, (l, input) => l.forward(input).Output);
        var naive = Run(layer, x, upstream, NaiveForward);
        foreach (var (name, value) in grouped)
            ParityAssert.Close($"grouped vs naive {name}", naive[name], value, Tolerance.Reduction);
    }

    private static Dictionary<string, Tensor> Run(MultiHeadMoE layer, Tensor x, Tensor upstream, Func<MultiHeadMoE, Tensor, Tensor> forward)
    {
        layer.zero_grad();
        var leaf = LayerParity.Leaf(x);
        var y = forward(layer, leaf);
        (y * upstream).sum().backward();
        var result = LayerParity.ParameterGradients(layer);
        result["y"] = y.detach();
        result["grad/x"] = leaf.grad!;
        return result;
    }

    /// <summary>Every expert module's own forward on all S sub-tokens, each weighted by its gate where routed, else 0.</summary>
    private static Tensor NaiveForward(MultiHeadMoE layer, Tensor x)
    {
        var o = layer.Options;
        var tokens = x.reshape(-1, o.Dim);
        if (layer.multi_heads is not null) tokens = layer.multi_heads.forward(tokens);
        var sub = tokens.reshape(-1, o.SubTokenDim);                                        // [S, d/h]
        var probs = softmax(nn.functional.linear(sub, layer.wg.weight), -1);                // [S, E]
        var chosen = probs.detach().topk((int)o.TopK, -1).indexes;                          // [S, k]
        var weights = zeros_like(probs).scatter(1, chosen, ones_like(chosen, dtype: float32)) * probs;   // [S, E], 0 unless routed
        var combined = zeros_like(sub);
        for (int e = 0; e < o.Experts; e++)
            combined = combined + weights.narrow(1, e, 1) * layer.experts[e].forward(sub);
        var merged = combined.reshape(-1, o.Dim);
        if (layer.out_proj is not null) merged = layer.out_proj.forward(merged);
        return merged.reshape(x.shape);
    }
}
