using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Mixture-of-Head attention (MoH, arXiv 2410.11842) following the official ViT/DiT code: every head's output is
/// multiplied by a per-token gate before <c>proj</c>, so MoH(x) = sum_i g_i H^i W_O^i + b_O. With
/// <see cref="HeadRouting.Dense"/> it is plain multi-head attention. Parameter names match the official PyTorch
/// code (<c>qkv</c>, <c>proj</c>, <c>wg</c>, <c>wg_0</c>, <c>wg_1</c>), so state dicts map one to one.
/// </summary>
public sealed class MoHAttention : nn.Module<AttentionInput, MoHAttentionOutput>, IOnnxExportable<OnnxSequenceInput>
{
    /// <summary>Joint query/key/value projection C -> 3*H*D, output laid out as [3, H, D].</summary>
    public readonly Projection qkv;

    /// <summary>Output projection H*D -> C; its bias is not gated.</summary>
    public readonly Projection proj;

    /// <summary>Routed-head router C -> E (no bias); exists for <see cref="HeadRouting.Learned"/> with RoutedTopK > 0.</summary>
    public readonly ExportableLinear? wg;

    /// <summary>Shared/routed mixing router C -> 2 (no bias); exists for Learned with SharedHeads > 0 and RoutedTopK > 0.</summary>
    public readonly ExportableLinear? wg_0;

    /// <summary>Shared-head router C -> h_s (no bias); exists for Learned with SharedHeads > 1.</summary>
    public readonly ExportableLinear? wg_1;

    /// <summary>The options this layer was built with (validated).</summary>
    public MoHAttentionOptions Options { get; }

    /// <summary>
    /// In evaluation mode, compute only the (token, head) pairs whose gate is not 0 instead of every head followed by
    /// a mask. Gives the same output within fp32 rounding; a head a token did not select still supplies that token's
    /// key and value to the other tokens. Ignored in training mode (where the balance loss and dropout need the
    /// official computation). Default false. Also decides what <see cref="EmitOnnx"/> emits, so a deployed model
    /// skips heads in ONNX Runtime as well.
    /// </summary>
    /// <remarks>It pays for long sequences with at most half the routed heads selected (docs/decisions.md, `attention` suite).</remarks>
    public bool SkipInactiveHeads { get; set; }

    /// <summary>Builds the layer; weights get the ViT recipe (trunc normal std 0.02 on every linear weight, zero biases).</summary>
    /// <exception cref="ArgumentException">An option or a combination of options is invalid (the message names it).</exception>
    public MoHAttention(MoHAttentionOptions options) : base(nameof(MoHAttention))
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        int innerDim = options.Heads * options.ResolvedHeadDim;
        qkv = Projections.Create(options.Linear, options.Dim, 3L * innerDim, options.QkvBias);
        proj = Projections.Create(options.Linear, innerDim, options.Dim, options.ProjBias);
        if (options.Routing == HeadRouting.Learned)
        {
            if (options.RoutedTopK > 0) wg = new ExportableLinear(options.Dim, options.RoutedHeads, hasBias: false) { KeepsFloat32 = true };
            if (options.RoutedTopK > 0 && options.SharedHeads > 0 && options.TwoStageRouting) wg_0 = new ExportableLinear(options.Dim, 2, hasBias: false) { KeepsFloat32 = true };
            if (options.SharedHeads > 1) wg_1 = new ExportableLinear(options.Dim, options.SharedHeads, hasBias: false) { KeepsFloat32 = true };
        }
        RegisterComponents();
        InitialiseLikeViT();
    }

    private bool _disposed;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override MoHAttentionOutput forward(AttentionInput input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckInput(input);
        if (SkipInactiveHeads && !training && Options.HasRoutedHeads && input.Cache is null) return HeadSkipping.Forward(this, input);
        var x = input.X;                                                        // [B, N, C]
        long batch = x.shape[0], tokens = x.shape[1], past = input.Cache?.Length ?? 0;
        int heads = Options.Heads, headDim = Options.ResolvedHeadDim;

        // Under a bf16 scope queries, keys and values stay bf16 from qkv into the attention products.
        var qkvHeads = qkv.call(MixedPrecision.Lower(x, qkv, proj)).view(batch, tokens, 3, heads, headDim).permute(2, 0, 3, 1, 4);  // [3, B, H, N, D]
        Tensor q = qkvHeads[0], k = qkvHeads[1], v = qkvHeads[2];              // [B, H, N, D]

        var (gates, balanceLoss) = Route(x, q, input.KeyPaddingMask);          // [B, N, H]
        if (input.Rotary is { } rotary)
        {
            q = rotary.forward(q, past);
            k = rotary.forward(k, past);
        }

        Tensor? mask;
        if (input.Cache is { } cache)
        {
            (k, v, var keyMask) = cache.Append(k, v, input.KeyPaddingMask);   // [B, H, P + N, D], [B, P + N]
            mask = AttentionMasks.ForQueriesAfter(past, tokens, keyMask, Options.Causal, x.device);
        }
        else mask = AttentionMasks.ForAllQueries(input.KeyPaddingMask, Options.Causal);
        var o = MixedPrecision.Attention(q, k, v, mask, training ? Options.AttentionDropout : 0.0,
            causal: Options.Causal && mask is null && past == 0).transpose(1, 2);   // [B, N, H, D]
        // Every head computed, then gated (official code); in fp32, so the routers' gradients are not rounded to bf16.
        if (Options.Routing != HeadRouting.Dense) o = o * gates.unsqueeze(-1);

        var y = F.dropout(proj.call(o.reshape(batch, tokens, -1)), Options.ProjDropout, training).to(x.dtype);   // [B, N, C]
        return new MoHAttentionOutput(y, balanceLoss, gates);
    }

    /// <summary>Whether <see cref="EmitOnnx"/> emits head skipping: asked for, and at most half the routed pairs are selected.</summary>
    internal bool SkipsHeadsInOnnx => SkipInactiveHeads && HeadSkippingOnnx.Pays(Options);

    /// <summary>
    /// Emits the evaluation-mode forward for inference, no dropout: every head attends and is multiplied by its gate
    /// before <c>proj</c>, or, with <see cref="SkipInactiveHeads"/> and at most half the routed heads selected per token,
    /// each routed head attends only for the queries that selected it (the same values within fp32 rounding). Every parameter goes in as an
    /// initializer under its state-dict name below <paramref name="prefix"/>; batch and sequence length may be symbolic.
    /// </summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="input">Tokens [B, N, C] (float), the optional bool key-padding mask [B, N] (true = real token),
    /// the optional rotary embedding applied to queries and keys after routing has read the queries, and the optional
    /// key/value cache (past keys and values; the new tokens sit at positions P onwards and the present keys and
    /// values are recorded in it).</param>
    /// <param name="prefix">This layer's state-dict path, e.g. "blocks.0.attn" ("" for a root module).</param>
    /// <returns>The output value [B, N, C].</returns>
    /// <exception cref="ArgumentException">The rotary embedding rotates another head width, or a cache comes with a key-padding mask.</exception>
    public string EmitOnnx(OnnxGraphBuilder graph, OnnxSequenceInput input, string prefix)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(prefix);
        var (x, keyPaddingMask, rotary, _, cache) = input;
        if (cache is not null && keyPaddingMask is not null)
            throw new ArgumentException("An ONNX key/value cache takes no key-padding mask (the decoder graph reads unpadded sequences).", nameof(input));
        int heads = Options.Heads, headDim = Options.ResolvedHeadDim;
        if (rotary is not null && rotary.HeadDim != headDim)
            throw new ArgumentException($"The rotary embedding covers head dim {rotary.HeadDim}; this layer needs {headDim}.", nameof(rotary));
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        using var scope = graph.Scope(prefix);

        var qkvHeads = graph.Transpose(graph.Reshape(qkv.EmitOnnx(graph, x, Name("qkv")), 0, 0, 3, heads, headDim),
            2, 0, 3, 1, 4);                                                     // [3, B, H, N, D]
        string Part(long index) => graph.Gather(qkvHeads, graph.Scalar(index), axis: 0);
        string q = Part(0), k = Part(1), v = Part(2);                           // [B, H, N, D]

        var gates = EmitGates(graph, x, q, prefix);                             // [B, N, H], or null when every gate is 1
        string? past = cache is null ? null : graph.Shape(cache.PastKeys, start: 2, end: 3);   // [1] = P
        if (rotary is not null)
        {
            q = rotary.EmitOnnx(graph, q, past);                                // positions P .. P + N - 1
            k = rotary.EmitOnnx(graph, k, past);
        }
        if (cache is not null)
        {
            k = graph.Concat(2, cache.PastKeys, k);                             // [B, H, P + N, D]
            v = graph.Concat(2, cache.PastValues, v);
            cache.SetPresent(k, v);
        }

        string? queryOffset = past is null ? null : graph.Squeeze(past, 0);     // scalar P
        if (gates is not null && SkipsHeadsInOnnx) return HeadSkippingOnnx.Emit(graph, this, q, k, v, gates, keyPaddingMask, queryOffset, prefix);

        var o = graph.Transpose(graph.ScaledDotProductAttention(q, k, v, headDim, keyPaddingMask, Options.Causal, queryOffset), 0, 2, 1, 3);   // [B, N, H, D]
        if (gates is not null) o = graph.Mul(o, graph.Unsqueeze(gates, -1));
        return proj.EmitOnnx(graph, graph.Reshape(o, 0, 0, -1), Name("proj"));                                 // [B, N, C]
    }

    /// <summary>Gates [B, N, H] and, in training with routed heads, the balance loss.</summary>
    /// <param name="x">The layer input [B, N, C] (what learned routers read).</param>
    /// <param name="q">Pre-rotary queries [B, H, N, D]; read only by ParameterFree routing, may be null otherwise.</param>
    /// <param name="keyPadding">[B, N] true for real tokens, or null.</param>
    internal (Tensor Gates, Tensor? BalanceLoss) Route(Tensor x, Tensor? q, Tensor? keyPadding)
    {
        long batch = x.shape[0], tokens = x.shape[1];
        var o = Options;
        var values = o.Routing switch
        {
            HeadRouting.Dense => new HeadGateValues(ones(batch * tokens, o.Heads, x.dtype, x.device), null, null),
            HeadRouting.Learned => HeadGates.Learned(x.reshape(batch * tokens, o.Dim), wg, wg_0, wg_1, o.SharedHeads, o.RoutedTopK),
            // Norms of the pre-rotary queries (RoPE preserves norms anyway): [B, E, N] -> [E, T].
            HeadRouting.ParameterFree => HeadGates.ParameterFree(q![.., o.SharedHeads..].to(x.dtype).norm(-1).transpose(0, 1).reshape(o.RoutedHeads, batch * tokens),
                    o.SharedHeads, o.RoutedTopK),
            _ => throw new InvalidOperationException($"Unknown routing {o.Routing}."),
        };
        Tensor? balanceLoss = training && values.Probabilities is not null
            ? HeadGates.BalanceLoss(values.Probabilities, values.Selected!, keyPadding?.reshape(batch * tokens))
            : null;
        return (values.Gates.view(batch, tokens, o.Heads), balanceLoss);
    }

    /// <summary>The ONNX twin of <see cref="Route"/>'s gates (eval mode): [B, N, H], or null when every gate is 1.</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="x">The layer input [B, N, C].</param>
    /// <param name="q">Pre-rotary queries [B, H, N, D].</param>
    /// <param name="prefix">This layer's state-dict path (for the routers).</param>
    private string? EmitGates(OnnxGraphBuilder graph, string x, string q, string prefix)
    {
        var o = Options;
        switch (o.Routing)
        {
            case HeadRouting.Dense:
                return null;
            case HeadRouting.Learned:
                return HeadGates.EmitLearned(graph, x, wg, wg_0, wg_1, o.SharedHeads, o.RoutedTopK, prefix);
            case HeadRouting.ParameterFree:
                var routedQueries = graph.Slice(q, [o.SharedHeads], [o.Heads], [1]);                            // [B, E, N, D]
                var norms = graph.Sqrt(graph.ReduceSum(graph.Mul(routedQueries, routedQueries), [-1], keepDims: false));   // [B, E, N]
                return HeadGates.EmitParameterFree(graph, graph.Transpose(norms, 0, 2, 1), o.SharedHeads, o.RoutedTopK, o.RoutedHeads);
            default:
                throw new InvalidOperationException($"Unknown routing {o.Routing}.");
        }
    }

    private void CheckInput(AttentionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var x = input.X ?? throw new ArgumentNullException(nameof(input), "AttentionInput.X is null.");
        if (x.dim() != 3 || x.shape[2] != Options.Dim || !x.is_floating_point())
            throw new ArgumentException(
                $"AttentionInput.X must be a floating-point [B, N, {Options.Dim}] tensor; got {x.dtype} [{string.Join(", ", x.shape)}].", nameof(input));
        if (x.shape[0] == 0 || x.shape[1] == 0)
            throw new ArgumentException(
                $"AttentionInput.X holds no {(x.shape[0] == 0 ? "sequence" : "token")}: [{string.Join(", ", x.shape)}]; MoHAttention needs at least one sequence of at least one token.", nameof(input));
        if (input.KeyPaddingMask is { } mask &&
            (mask.dtype != ScalarType.Bool || mask.dim() != 2 || mask.shape[0] != x.shape[0] || mask.shape[1] != x.shape[1]))
            throw new ArgumentException(
                $"AttentionInput.KeyPaddingMask must be a bool [B, N] = [{x.shape[0]}, {x.shape[1]}] tensor; got {mask.dtype} [{string.Join(", ", mask.shape)}].",
                nameof(input));
        long positions = (input.Cache?.Length ?? 0) + x.shape[1];
        if (input.Rotary is { } rotary && (rotary.HeadDim != Options.ResolvedHeadDim || rotary.MaxLength < positions))
            throw new ArgumentException(
                $"AttentionInput.Rotary covers head dim {rotary.HeadDim} and {rotary.MaxLength} positions; this layer needs head dim {Options.ResolvedHeadDim} and {positions} positions.",
                nameof(input));
        if (input.Cache?.Keys is { } cached && (cached.shape[0] != x.shape[0] || cached.shape[1] != Options.Heads || cached.shape[3] != Options.ResolvedHeadDim))
            throw new ArgumentException(
                $"AttentionInput.Cache holds keys [{string.Join(", ", cached.shape)}]; this layer and batch need [{x.shape[0]}, {Options.Heads}, P, {Options.ResolvedHeadDim}].",
                nameof(input));
    }

    /// <summary>timm ViT / TransNeXt init: trunc_normal(std 0.02) on every linear weight (routers included), zero biases.</summary>
    private void InitialiseLikeViT()
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (name.EndsWith("weight", StringComparison.Ordinal)) ParameterInit.TruncatedNormal_(parameter, std: 0.02);
            else parameter.zero_();
        }
    }
}
