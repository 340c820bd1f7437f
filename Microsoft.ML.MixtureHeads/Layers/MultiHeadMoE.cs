using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Multi-Head Mixture-of-Experts layer (MH-MoE, arXiv 2404.15045 / 2411.16205) with dropless grouped dispatch.
/// Each token is projected (<c>multi_heads</c>), split into h sub-tokens of d/h features, each sub-token is routed
/// to its top-k SwiGLU experts, the gate-weighted expert outputs are merged back into tokens and projected
/// (<c>out_proj</c>). With h = 1 and no projections it is a plain sparse MoE.
/// </summary>
/// <remarks>
/// specs/mhmoe.md section 2 and its pinned decisions: router <c>wg</c> bias-free on d/h in fp32, softmax over all
/// experts then top-k, raw top-k probabilities as combine weights (renormalisation optional), post-score
/// combine, dropless by default, GShard balance loss on the first choice. Parameter names map one to one onto the
/// official MOELayer: <c>multi_heads.*</c>, <c>out_proj.*</c>, <c>experts.{e}.fc1/fc2/fc3.weight</c>, and
/// <c>wg.weight</c> for the official <c>gate.wg.weight</c>.
/// <para>
/// Dispatch, the fastest formulation we measured for forward + backward on CPU (1 thread, d = 96 / 192 presets,
/// 4096 tokens, thread CPU time on a shared 2-core machine, +-10%; benchmarks suite <c>moe</c>): the (sub-token, choice) assignments are grouped by expert on the host
/// (<see cref="DispatchPlan"/>, one counting pass in the official slot order); one row gather builds a buffer in
/// which each expert's rows are contiguous (<see cref="DispatchRows"/>); experts of similar load are computed
/// together by <c>bmm</c> over their stacked weights (<see cref="SwiGLU.ForwardStacked"/>); one row gather brings
/// the results back per assignment (<see cref="CombineRows"/>), and the gates weight them. What lost, and why:
/// </para>
/// <list type="bullet">
/// <item>A loop running each expert's own module on its rows (same gathers): ~25 ops and autograd nodes per
/// expert of TorchSharp overhead. Dispatch + experts took 60 ms against 57 ms grouped for h = 3, d = 96 (96 experts
/// of 32 -> 64), 144 against 140 ms for h = 3, d = 192; a tie (+-3%) for h = 2, whose 40 experts are wider.</item>
/// <item>One <c>bmm</c> padded to the busiest expert: padding grows with imbalance (h = 3, d = 192 layer 190 ms);
/// cost-based groups (<see cref="DispatchPlan"/>) took it to 164 ms.</item>
/// <item>Autograd's <c>index_select</c>: its backward is <c>index_add_</c>, which libtorch runs row by row on CPU
/// (5-10 ms against 2.5 ms forward + backward for 36,864 rows of 32); the custom gathers use <c>index_select</c>
/// both ways. <c>index_copy</c> with an <c>index_select</c> backward sat in between (4.5 ms).</item>
/// <item>A <c>narrow</c> per group of the buffer: each narrow's backward writes a zero-filled copy of the whole
/// buffer (7.4 ms against 1.9 ms for one <c>split</c> over 10 groups).</item>
/// <item>One <c>bmm</c> over fused [fc1; fc3] weights: its chunk backward adds a cat (38.5 ms against 33.5 ms).</item>
/// <item>libtorch's CPU <c>topk</c>: 12.8 ms against 4.6 ms for k passes of <c>max</c> (12,288 rows, 96 experts, k = 3).</item>
/// </list>
/// </remarks>
public sealed class MultiHeadMoE : nn.Module<Tensor, Tensor?, MoEOutput>, IOnnxExportable<OnnxSequenceInput>
{
    /// <summary>Head projection d -> d with bias (null without head projections).</summary>
    public readonly ExportableLinear? multi_heads;

    /// <summary>Merge projection d -> d with bias (null without head projections).</summary>
    public readonly ExportableLinear? out_proj;

    /// <summary>Router: bias-free d/h -> E, evaluated in fp32.</summary>
    public readonly ExportableLinear wg;

    /// <summary>The E SwiGLU experts on d/h features.</summary>
    public readonly ModuleList<SwiGLU> experts;

    /// <summary>The configuration this layer was built with.</summary>
    public MultiHeadMoEOptions Options { get; }

    /// <summary>Called once per expert group during forward with the group and the shape of its input batch;
    /// lets tests see that each expert computes exactly its routed rows.</summary>
    internal Action<ExpertGroup, long[]>? ExpertGroupComputed { get; set; }

    /// <summary>Creates the layer; throws <see cref="ArgumentException"/> naming an invalid option.</summary>
    public MultiHeadMoE(MultiHeadMoEOptions options) : base(nameof(MultiHeadMoE))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        long d = options.Dim;
        if (options.UsesHeadProjections)
        {
            multi_heads = new ExportableLinear(d, d, hasBias: true);
            nn.init.xavier_uniform_(multi_heads.weight, gain: 1 / Math.Sqrt(2));
            out_proj = new ExportableLinear(d, d, hasBias: true);
            nn.init.xavier_uniform_(out_proj.weight, gain: 1);
            nn.init.zeros_(out_proj.bias!);
        }
        wg = new ExportableLinear(options.SubTokenDim, options.Experts, hasBias: false);
        experts = nn.ModuleList(Enumerable.Range(0, checked((int)options.Experts))
            .Select(_ => new SwiGLU(options.SubTokenDim, options.ExpertHidden, options.ExpertLinear, bias: false)).ToArray());
        RegisterComponents();
    }

    /// <summary>The layer on every token of <paramref name="x"/> [..., d].</summary>
    public MoEOutput forward(Tensor x) => forward(x, null);

    /// <summary>
    /// The layer on the real tokens of <paramref name="x"/> [..., d]: with a <paramref name="keyPaddingMask"/> (bool,
    /// shaped like x without its last dimension, true = real token) padding tokens are neither routed nor counted in
    /// the capacity or the balance loss, and their output is zero, so a row scores the same however it is padded.
    /// </summary>
    public override MoEOutput forward(Tensor x, Tensor? keyPaddingMask)
    {
        long d = Options.Dim;
        if (x.dim() < 1 || x.shape[^1] != d)
            throw new ArgumentException($"MultiHeadMoE expects input [..., {d}], got [{string.Join(", ", x.shape)}].", nameof(x));
        if (!x.is_floating_point())
            throw new ArgumentException($"MultiHeadMoE expects a floating-point input, got {x.dtype}.", nameof(x));
        long tokens = x.numel() / d;
        if (tokens == 0) throw new ArgumentException($"MultiHeadMoE needs at least one token, got [{string.Join(", ", x.shape)}].", nameof(x));
        if (keyPaddingMask is not null && (keyPaddingMask.dtype != ScalarType.Bool || !keyPaddingMask.shape.SequenceEqual(x.shape[..^1])))
            throw new ArgumentException(
                $"MultiHeadMoE's key-padding mask must be bool [{string.Join(", ", x.shape[..^1])}]; got {keyPaddingMask.dtype} [{string.Join(", ", keyPaddingMask.shape)}].",
                nameof(keyPaddingMask));

        var tokenRows = x.reshape(tokens, d);                                             // [N, d]
        var realRows = keyPaddingMask?.reshape(tokens).nonzero().reshape(-1);             // [N'], or null: every row
        if (realRows is not null && realRows.shape[0] == tokens) realRows = null;
        if (realRows is not null && realRows.shape[0] == 0)
            return new MoEOutput(zeros_like(x), training ? zeros(1, float32, x.device).sum() : null, zeros(Options.Experts, float32, x.device));
        var (merged, balanceLoss, load) = RouteTokens(realRows is null ? tokenRows : tokenRows.index_select(0, realRows));   // [N', d]
        if (realRows is not null) merged = zeros(tokens, d, merged.dtype, merged.device).index_copy(0, realRows, merged);
        return new MoEOutput(merged.reshape(x.shape), balanceLoss, load);
    }

    /// <summary>Head projection, split, routing, experts, merge and merge projection of token rows [N, d] -> [N, d].</summary>
    private (Tensor Merged, Tensor? BalanceLoss, Tensor ExpertLoad) RouteTokens(Tensor tokenRows)
    {
        long d = Options.Dim, k = Options.TopK, subDim = Options.SubTokenDim;
        long tokens = tokenRows.shape[0], subTokens = tokens * Options.Heads;
        if (multi_heads is not null) tokenRows = multi_heads.call(tokenRows);
        var sub = tokenRows.reshape(subTokens, subDim);                                   // [S, d/h], token-major

        var probs = softmax(F.linear(sub.to(float32), wg.weight.to(float32)), -1);       // [S, E] fp32
        var choices = TopIndices(probs, k);                                               // [S, k]
        var gates = probs.gather(1, choices);                                             // [S, k]
        if (Options.RenormalizeTopK) gates = gates / gates.sum(-1, keepdim: true).clamp_min(Scalars.Of(finfo(float32).eps));

        var plan = DispatchPlan.Create(choices.t().contiguous().cpu().data<long>().ToArray(),
            checked((int)Options.Experts), subTokens, k, Capacity(subTokens), 3 * subDim * Options.ExpertHidden);
        var expertRows = RunExperts(sub, plan);                                           // [k * S, d/h], choice-major
        var combined = (expertRows.view(k, subTokens, subDim) * gates.t().unsqueeze(-1).to(sub.dtype)).sum(dim: 0);   // [S, d/h]

        var merged = combined.reshape(tokens, d);                                         // [N, d]
        if (out_proj is not null) merged = out_proj.call(merged);
        return (merged, training ? BalanceLoss(probs, plan, subTokens) : null, ExpertLoad(plan, sub.device));
    }

    /// <summary>
    /// Emits the evaluation-mode forward for inference: head projection, split into sub-tokens, fp32 router softmax
    /// over all experts, top-k (raw or renormalised combine weights), each expert on only the sub-tokens routed to it
    /// (with capacity: the ones it keeps, in the official slot order), merge and merge projection. Every parameter goes
    /// in as an initializer under its state-dict name below <paramref name="prefix"/>; leading dims may be symbolic.
    /// </summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="input">Tokens [..., d] (float) and an optional bool key-padding mask shaped like them without the
    /// last dimension: padding tokens are left out of routing and capacity and get zero output, as in the forward.</param>
    /// <param name="prefix">This layer's state-dict path, e.g. "blocks.1.moe" ("" for a root module).</param>
    /// <returns>The output value, shaped like the tokens.</returns>
    /// <remarks>
    /// Sparse dispatch (<see cref="ExpertDispatchOnnx"/>) measured faster in ONNX Runtime 1.31 (CPU, 1 thread) than
    /// computing every expert on every sub-token and weighting by a dense [S, E] gate matrix, at every size measured
    /// (benchmarks suite <c>moe-onnx</c>, 64 to 4096 tokens): 1.7-2.6x for the registered h = 2, 8 x 96, top-2 layer
    /// (dense or BitLinear experts), 2.5-2.9x for h = 3, 16 x 64, top-3, 3.4-7x for SMoE 8 x 256, top-1. The sort,
    /// gathers and scatter cost less than the E / k - 1 extra expert passes even at 64 tokens; stacking all experts'
    /// weights into three batched MatMuls made the dense form slower still.
    /// </remarks>
    public string EmitOnnx(OnnxGraphBuilder graph, OnnxSequenceInput input, string prefix)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(prefix);
        using var scope = graph.Scope(prefix);
        string x = input.X, tokenRows = graph.Reshape(x, -1, Options.Dim);                          // [N, d]
        if (input.KeyPaddingMask is not { } mask) return graph.Reshape(EmitRouteTokens(graph, tokenRows, prefix), graph.Shape(x));

        var realRows = graph.Reshape(graph.NonZero(graph.Reshape(mask, -1)), -1);                    // [N'] int64
        var merged = EmitRouteTokens(graph, graph.Gather(tokenRows, realRows), prefix);             // [N', d]
        var all = graph.ScatterND(graph.ConstantOfShape(graph.Shape(tokenRows), 0f), graph.Unsqueeze(realRows, 1), merged);   // [N, d]
        return graph.Reshape(all, graph.Shape(x));
    }

    /// <summary>The ONNX twin of <see cref="RouteTokens"/> on token rows [N, d] -> [N, d].</summary>
    private string EmitRouteTokens(OnnxGraphBuilder graph, string tokenRows, string prefix)
    {
        long d = Options.Dim, k = Options.TopK, subDim = Options.SubTokenDim;
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        if (multi_heads is not null) tokenRows = multi_heads.EmitOnnx(graph, tokenRows, Name("multi_heads"));
        var sub = graph.Reshape(tokenRows, -1, subDim);                                               // [S, d/h], token-major

        var probs = graph.Softmax(wg.EmitOnnx(graph, sub, Name("wg")), axis: -1);                      // [S, E]
        var (gates, choices) = graph.TopK(probs, k);                                                  // [S, k], largest first
        if (Options.RenormalizeTopK)
            gates = graph.Div(gates, graph.Max(graph.ReduceSum(gates, [-1], keepDims: true), graph.Scalar((float)finfo(float32).eps)));

        string? capacity = Options.CapacityFactor is { } factor
            ? ExpertDispatchOnnx.EmitCapacity(graph, sub, Options.Experts, factor * Options.TopK)
            : null;
        var combined = ExpertDispatchOnnx.Emit(graph, sub, choices, gates, Options.Experts, capacity,
            (e, rows) => experts[e].EmitOnnx(graph, rows, Name($"experts.{e}")));                    // [S, d/h]

        var merged = graph.Reshape(combined, -1, d);                                                  // [N, d]
        return out_proj is null ? merged : out_proj.EmitOnnx(graph, merged, Name("out_proj"));
    }

    /// <summary>Capacity per expert C = ceil(f * k * ceil(S / E)), or null when dropless.</summary>
    internal long? Capacity(long subTokens) => Options.CapacityFactor is { } factor
        ? (long)Math.Ceiling(factor * Options.TopK * ((subTokens + Options.Experts - 1) / Options.Experts))
        : null;

    /// <summary>Every routed assignment through its expert: [k * S, d/h] choice-major, zero rows where dropped.</summary>
    private Tensor RunExperts(Tensor sub, DispatchPlan plan)
    {
        long subDim = sub.shape[1];
        var indices = ExpertRowIndices.Of(plan, sub.device);
        var buffer = DispatchRows.Apply(sub, indices);                                   // [R, d/h], experts contiguous
        // One split, not a narrow per group: each narrow's backward would write a zero-filled copy of the whole buffer.
        var groupRows = buffer.split(plan.Groups.Select(g => g.BufferRows).ToArray());
        var outputs = plan.Groups.Select((group, i) =>
        {
            var rows = groupRows[i].view(group.Experts.Length, group.Capacity, subDim);
            ExpertGroupComputed?.Invoke(group, rows.shape);
            return SwiGLU.ForwardStacked(group.Experts.Select(e => experts[e]).ToList(), rows).reshape(group.BufferRows, subDim);
        }).ToList();
        var bufferOut = outputs.Count == 1 ? outputs[0] : cat(outputs, 0);             // [R, d/h]; a token keeps >= 1 row
        return CombineRows.Apply(bufferOut, indices);                                    // [A, d/h]
    }

    /// <summary>
    /// Indices of the k largest probabilities per row, largest first. k passes of <c>max</c>, each masking its pick:
    /// ~3x faster than libtorch's CPU <c>topk</c> at these sizes. The selection carries no gradient.
    /// </summary>
    private static Tensor TopIndices(Tensor probs, long k)
    {
        using var noGrad = no_grad();
        if (k == 1) return probs.max(-1, keepdim: true).indexes;
        var remaining = probs.clone();
        var picks = new Tensor[k];
        for (long j = 0; j < k; j++)
        {
            var (values, indices) = remaining.max(-1, keepdim: true);
            picks[j] = indices;
            if (j < k - 1) remaining.scatter_(-1, indices, full_like(values, Scalars.Of(-1.0)));   // probabilities are >= 0
        }
        return cat(picks, -1);
    }

    /// <summary>E * sum_e mean_s(p[s, e]) * frac_s(top1(s) == e) over all S sub-tokens (fp32 scalar).</summary>
    private Tensor BalanceLoss(Tensor probs, DispatchPlan plan, long subTokens)
    {
        var firstChoiceFraction = tensor(plan.FirstChoiceCounts.Select(c => (float)c / subTokens).ToArray(), device: probs.device);
        return (probs.mean([0]) * firstChoiceFraction).sum() * Scalars.Of((long)Options.Experts);
    }

    /// <summary>Routed assignments per expert over all k * S assignments, [E].</summary>
    private static Tensor ExpertLoad(DispatchPlan plan, Device device)
    {
        double assignments = plan.SlotOfAssignment.LongLength;
        return tensor(plan.RoutedCounts.Select(c => (float)(c / assignments)).ToArray(), device: device);
    }
}
