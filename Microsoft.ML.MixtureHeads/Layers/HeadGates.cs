using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>One layer's routing for a batch: the gate of every head for every token, and what the balance loss reads.</summary>
/// <param name="Gates">[T, H], shared heads first.</param>
/// <param name="Probabilities">[T, E] the routing distribution P over the routed heads, or null when none are routed.</param>
/// <param name="Selected">[T, E] 1 where a token selected a routed head, else 0; null when none are routed.</param>
internal sealed record HeadGateValues(Tensor Gates, Tensor? Probabilities, Tensor? Selected);

/// <summary>The gate formulas of specs/moh.md ("Decisions for this project"), on T = B*N flattened tokens.</summary>
internal static class HeadGates
{
    /// <summary>torch.finfo(float32).eps, the clamp the official code puts under the renormalisation.</summary>
    public const double Float32Epsilon = 1.1920928955078125e-07;

    /// <summary>Official ViT/DiT routing: renormalised top-k x k for routed heads, softmax x h_s for shared ones, alpha x 2
    /// between (no <paramref name="wg_0"/>: the two groups as they are, the paper's ablation without two-stage routing).</summary>
    /// <remarks>The routers run as one product and the gates are computed heads-first, [R, T]: libtorch's softmax over a
    /// short last axis (2-8 heads) is several times slower than over the first axis (docs/decisions.md). The tensors
    /// returned are [T, ...] views of them.</remarks>
    public static HeadGateValues Learned(Tensor tokens, ExportableLinear? wg, ExportableLinear? wg_0, ExportableLinear? wg_1, int sharedHeads, int topK)
    {
        // tokens: [T, C]
        var (routerLogits, mixLogits, sharedLogits) = HeadsFirstLogits(tokens, wg, wg_0, wg_1);   // [E, T], [2, T], [h_s, T]
        var shared = sharedHeads switch
        {
            0 => null,
            1 => ones(1, tokens.shape[0], tokens.dtype, tokens.device),                      // ViT: one shared head, gate 1
            _ => softmax(sharedLogits!, 0) * Scalars.Of((long)sharedHeads),                  // [h_s, T], averages 1
        };
        if (topK == 0) return new HeadGateValues(shared!.t(), null, null);                      // dense-weighted: h_s == H

        var probabilities = softmax(routerLogits!, 0);                                          // [E, T] over all routed heads
        var (selected, renormalised) = RenormalisedTopK(probabilities, topK, dim: 0);         // [E, T] each
        var routed = renormalised * Scalars.Of((long)topK);                                  // selected gates average 1
        Tensor gates = shared is null ? routed
            : wg_0 is null ? cat([shared, routed], 0)
            : TwoStage(shared, routed, softmax(mixLogits!, 0) * Scalars.Of(2L));             // alpha [2, T]
        return new HeadGateValues(gates.t(), probabilities.t(), selected.t());                   // [T, H], [T, E], [T, E]

        static Tensor TwoStage(Tensor shared, Tensor routed, Tensor alpha) => cat([shared * alpha[..1], routed * alpha[1..]], 0);   // [H, T]
    }

    /// <summary>The logits of the routers given, from one product, heads-first ([outputs, T] each; null for a missing router).</summary>
    private static (Tensor?, Tensor?, Tensor?) HeadsFirstLogits(Tensor tokens, ExportableLinear? first, ExportableLinear? second, ExportableLinear? third)
    {
        var present = new[] { first, second, third }.OfType<ExportableLinear>().ToArray();
        if (present.Length == 0) return (null, null, null);
        var logits = F.linear(tokens, cat(present.Select(r => (Tensor)r.weight).ToArray(), 0)).t().contiguous();   // [R, T]
        var parts = new Queue<Tensor>(logits.split(present.Select(r => r.weight.shape[0]).ToArray(), 0));
        return (first is null ? null : parts.Dequeue(), second is null ? null : parts.Dequeue(), third is null ? null : parts.Dequeue());
    }

    /// <summary>
    /// MoH-LLaMA3 routing: softmax over the routed heads' query norms divided by their unbiased std, top-k, binary
    /// gates. Forward gives exactly 1 or 0; backward passes dL/dgate of a selected head to its softmax score
    /// (straight-through), and nothing for heads not selected. Shared heads get a constant 1 and no ×k scaling applies.
    /// </summary>
    /// <remarks>Takes the norms heads-first, [E, T]. A std of 0 (all routed norms equal) is clamped to float32 eps: the
    /// logits are then all equal, the scores uniform, and nothing becomes NaN as it would in the official code.</remarks>
    public static HeadGateValues ParameterFree(Tensor routedQueryNorms, int sharedHeads, int topK)
    {
        // routedQueryNorms: [E, T], heads first as in Learned
        var spread = routedQueryNorms.std(0, unbiased: true, keepdim: true).clamp_min(Scalars.Of(Float32Epsilon)); // [1, T]
        var scores = softmax(routedQueryNorms / spread, 0);                                   // [E, T]
        var selected = TopKMask(scores, topK, dim: 0);                                        // [E, T] 0/1
        var routed = selected.Plus((scores - scores.detach()) * selected);                    // forward 0/1, backward to scores
        var gates = sharedHeads == 0 ? routed : cat([ones(sharedHeads, routed.shape[1], routed.dtype, routed.device), routed], 0);   // [H, T]
        return new HeadGateValues(gates.t(), scores.t(), selected.t());                          // [T, H], [T, E], [T, E]
    }

    /// <summary>The top-<paramref name="k"/> mask of <paramref name="probabilities"/> along <paramref name="dim"/> and the
    /// selected probabilities renormalised to sum to 1 (eps-clamped, as the official code), 0 elsewhere.</summary>
    public static (Tensor Selected, Tensor Gates) RenormalisedTopK(Tensor probabilities, int k, int dim = 1)
    {
        var selected = TopKMask(probabilities, k, dim);
        var kept = probabilities * selected;
        return (selected, kept / kept.sum(dim, keepdim: true).clamp_min(Scalars.Of(Float32Epsilon)));
    }

    /// <summary>1 at the <paramref name="k"/> largest entries along <paramref name="dim"/> of <paramref name="scores"/>, 0 elsewhere.</summary>
    public static Tensor TopKMask(Tensor scores, int k, int dim = 1)
    {
        var (values, indices) = scores.detach().topk(k, dim);
        return zeros_like(scores).scatter_(dim, indices, ones_like(values));
    }

    /// <summary>
    /// The ONNX twin of <see cref="Learned"/> (forward values) on tokens [..., C]: gates [..., H], or null when every
    /// gate is the constant 1 (the dense-weighted case with one head). Routers go in under <paramref name="prefix"/>.
    /// </summary>
    public static string? EmitLearned(OnnxGraphBuilder graph, string tokens, ExportableLinear? wg, ExportableLinear? wg_0, ExportableLinear? wg_1,
        int sharedHeads, int topK, string prefix)
    {
        string Router(ExportableLinear router, string name) =>
            graph.Softmax(router.EmitOnnx(graph, tokens, OnnxGraphBuilder.ParameterName(prefix, name)), axis: -1);
        // null for a single shared head, whose gate is 1
        string? shared = sharedHeads > 1 ? graph.Mul(Router(wg_1!, "wg_1"), graph.Scalar((float)sharedHeads)) : null;   // [..., h_s]
        if (topK == 0) return shared;                                                                  // dense-weighted: h_s == H

        var probabilities = Router(wg!, "wg");                                                         // [..., E]
        var kept = graph.Mul(probabilities, EmitTopKMask(graph, probabilities, topK));
        var total = graph.Max(graph.ReduceSum(kept, [-1], keepDims: true), graph.Scalar((float)Float32Epsilon));
        var routed = graph.Mul(graph.Div(kept, total), graph.Scalar((float)topK));                     // [..., E]
        if (sharedHeads == 0) return routed;
        if (wg_0 is null) return graph.Concat(-1, shared ?? EmitOnes(graph, routed, 1), routed);

        var alpha = graph.Split(graph.Mul(Router(wg_0, "wg_0"), graph.Scalar(2f)), -1, 1, 1);         // [..., 1] twice
        return graph.Concat(-1, shared is null ? alpha[0] : graph.Mul(shared, alpha[0]), graph.Mul(routed, alpha[1]));   // [..., H]
    }

    /// <summary>
    /// The ONNX twin of <see cref="ParameterFree"/> (forward values) on the routed query norms [..., E]: binary gates
    /// [..., H], shared heads first. <paramref name="routedHeads"/> is E (the std is unbiased, so it divides by E - 1).
    /// </summary>
    public static string EmitParameterFree(OnnxGraphBuilder graph, string routedQueryNorms, int sharedHeads, int topK, int routedHeads)
    {
        var centred = graph.Sub(routedQueryNorms, graph.ReduceMean(routedQueryNorms, [-1], keepDims: true));
        var variance = graph.Div(graph.ReduceSum(graph.Mul(centred, centred), [-1], keepDims: true), graph.Scalar((float)(routedHeads - 1)));
        var spread = graph.Max(graph.Sqrt(variance), graph.Scalar((float)Float32Epsilon));            // [..., 1]
        var scores = graph.Softmax(graph.Div(routedQueryNorms, spread), axis: -1);                     // [..., E]
        var selected = EmitTopKMask(graph, scores, topK);                                              // [..., E] 0/1
        if (sharedHeads == 0) return selected;
        return graph.Concat(-1, EmitOnes(graph, selected, sharedHeads), selected);                    // [..., H]
    }

    /// <summary>Constant 1 gates [..., <paramref name="heads"/>] with the leading axes of <paramref name="like"/>.</summary>
    private static string EmitOnes(OnnxGraphBuilder graph, string like, int heads) =>
        graph.ConstantOfShape(graph.Concat(0, graph.Shape(like, start: 0, end: -1), graph.Vector(heads)), 1f);

    /// <summary>The ONNX twin of <see cref="TopKMask"/> along the last axis: 1 at the <paramref name="k"/> largest entries, 0 elsewhere.</summary>
    public static string EmitTopKMask(OnnxGraphBuilder graph, string scores, int k)
    {
        var (_, indices) = graph.TopK(scores, k, axis: -1);                                            // [..., k] int64
        var zeros = graph.ConstantOfShape(graph.Shape(scores), 0f);
        return graph.ScatterElements(zeros, indices, graph.ConstantOfShape(graph.Shape(indices), 1f), axis: -1);
    }

    /// <summary>
    /// L_b = E^2 * mean_i(P_i * f_i): P_i the mean routing probability of routed head i, f_i the fraction of tokens
    /// that selected it (E times the paper's Eq 7). Gradient flows through P only. With <paramref name="realTokens"/>
    /// ([T] bool) both means run over real tokens only, so padding does not skew the balance.
    /// </summary>
    public static Tensor BalanceLoss(Tensor probabilities, Tensor selected, Tensor? realTokens)
    {
        long routedHeads = probabilities.shape[1];
        Tensor meanProbability, selectedFraction; // [E]
        if (realTokens is null)
        {
            meanProbability = probabilities.mean([0]);
            selectedFraction = selected.mean([0]);
        }
        else
        {
            var weight = realTokens.to(probabilities.dtype).unsqueeze(1);                    // [T, 1]
            var count = weight.sum().clamp_min(Scalars.Of(1L));
            meanProbability = (probabilities * weight).sum([0]) / count;
            selectedFraction = (selected * weight).sum([0]) / count;
        }
        return (meanProbability * selectedFraction).mean() * Scalars.Of(routedHeads * routedHeads);
    }
}
