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
/// <para>Dispatch groups the assignments by expert on the host and computes experts of similar load in one
/// <c>bmm</c>: the formulations that lost, with their timings, are in docs/decisions.md.</para>
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

    private bool _disposed;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
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
        ObjectDisposedException.ThrowIf(_disposed, this);
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
    /// <remarks>Sparse dispatch (<see cref="ExpertDispatchOnnx"/>) measured faster than a dense all-experts graph at every
    /// size (docs/decisions.md, `moe-onnx` suite).</remarks>
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
