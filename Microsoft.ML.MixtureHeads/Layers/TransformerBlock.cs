using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Options of a pre-norm transformer block.</summary>
public sealed record TransformerBlockOptions
{
    /// <summary>The attention half: dense multi-head attention is <see cref="HeadRouting.Dense"/>, MoH any other routing.</summary>
    public required MoHAttentionOptions Attention { get; init; }

    /// <summary>The feed-forward half: dense GELU MLP / SwiGLU, or MH-MoE / SMoE.</summary>
    public required FeedForwardOptions FeedForward { get; init; }

    /// <summary>RMSNorm instead of LayerNorm for both norms. Default false (LayerNorm, as ViT).</summary>
    public bool UseRmsNorm { get; init; }

    /// <summary>Epsilon of both norms. Default 1e-6.</summary>
    public double NormEps { get; init; } = 1e-6;

    /// <summary>
    /// Width of a conditioning vector (a DiT's timestep + class embedding) that modulates the block adaLN-Zero style;
    /// null (the default) for an unconditioned block. With it the norms have no gain or bias of their own.
    /// </summary>
    public int? ConditionDim { get; init; }
}

/// <summary>What a block returns: the new hidden states plus the routing side results of its two halves.</summary>
/// <param name="X">Hidden states [B, N, C].</param>
/// <param name="AttentionBalanceLoss">The MoH layer's balance loss (training, routed heads only).</param>
/// <param name="ExpertBalanceLoss">The expert layer's balance loss (training, MoE feed-forward only).</param>
/// <param name="HeadGates">Per-token head gates [B, N, H] (0 = head not used).</param>
public sealed record BlockOutput(Tensor X, Tensor? AttentionBalanceLoss, Tensor? ExpertBalanceLoss, Tensor HeadGates);

/// <summary>
/// Pre-norm transformer block: x = x + attn(norm1(x)); x = x + ffn(norm2(x)). One code path serves dense multi-head
/// attention (every head shared) and MoH, and a dense, SMoE or MH-MoE feed-forward. With a conditioning vector c
/// (DiT's adaLN-Zero) the six vectors shift/scale/gate of both halves come from <c>adaLN_modulation(c)</c>:
/// x = x + gate_a * attn(norm1(x) * (1 + scale_a) + shift_a), and the same for the feed-forward half.
/// timm/official parameter names: <c>norm1</c>, <c>attn</c>, <c>norm2</c>, <c>mlp</c> (dense) or <c>moe</c> (experts),
/// <c>adaLN_modulation.1</c>.
/// </summary>
public sealed class TransformerBlock : nn.Module<AttentionInput, Tensor?, BlockOutput>, IOnnxExportable<OnnxSequenceInput>
{
    /// <summary>Norm before attention.</summary>
    public readonly ExportableModule norm1;

    /// <summary>The attention layer.</summary>
    public readonly MoHAttention attn;

    /// <summary>Norm before the feed-forward network.</summary>
    public readonly ExportableModule norm2;

    /// <summary>The dense feed-forward network (null when experts are used).</summary>
    public readonly ExportableModule? mlp;

    /// <summary>The expert feed-forward layer (null when dense).</summary>
    public readonly MultiHeadMoE? moe;

    /// <summary>Condition -> the six modulation vectors (null for an unconditioned block).</summary>
    public readonly AdaLNModulation? adaLN_modulation;

    /// <summary>The options this block was built with.</summary>
    public TransformerBlockOptions Options { get; }

    /// <summary>Builds the block.</summary>
    public TransformerBlock(TransformerBlockOptions options) : base(nameof(TransformerBlock))
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        int dim = options.Attention.Dim;
        bool conditioned = options.ConditionDim is not null;
        norm1 = Norm(dim, options, affine: !conditioned);
        attn = new MoHAttention(options.Attention);
        norm2 = Norm(dim, options, affine: !conditioned);
        var ffn = options.FeedForward;
        switch (ffn.Kind)
        {
            case FeedForwardKind.GeluMlp: mlp = new GeluMlp(dim, ffn.Hidden, ffn.Linear); break;
            case FeedForwardKind.SwiGLU: mlp = new SwiGLU(dim, ffn.Hidden, ffn.Linear); break;
            case FeedForwardKind.MultiHeadMoE:
                var moeOptions = ffn.MoE ?? throw new ArgumentException("FeedForwardOptions.MoE must be set for the MultiHeadMoE kind.", nameof(options));
                if (moeOptions.Dim != dim) throw new ArgumentException($"FeedForwardOptions.MoE.Dim ({moeOptions.Dim}) must equal the attention Dim ({dim}).", nameof(options));
                moe = new MultiHeadMoE(moeOptions);
                break;
            default: throw new ArgumentException($"Unknown FeedForwardKind {ffn.Kind}.", nameof(options));
        }
        if (options.ConditionDim is { } conditionDim) adaLN_modulation = new AdaLNModulation(conditionDim, dim, chunks: 6);
        RegisterComponents();
    }

    private static ExportableModule Norm(int dim, TransformerBlockOptions options, bool affine) =>
        options.UseRmsNorm && affine ? new RMSNorm(dim, options.NormEps) : new ExportableLayerNorm(dim, options.NormEps, elementwiseAffine: affine);

    /// <summary>The block on <paramref name="input"/> without a condition.</summary>
    public BlockOutput forward(AttentionInput input) => forward(input, null);

    private bool _disposed;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <summary>The block on <paramref name="input"/>, modulated by <paramref name="condition"/> [B, C_cond] when it was built with a <see cref="TransformerBlockOptions.ConditionDim"/>.</summary>
    /// <exception cref="ArgumentException">A condition is missing, not expected, or of the wrong shape.</exception>
    public override BlockOutput forward(AttentionInput input, Tensor? condition)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(input);
        var x = input.X;                                                      // [B, N, C]
        Tensor[]? m = null;                                                   // shift, scale, gate of attention, then of the feed-forward
        if (adaLN_modulation is not null)
        {
            CheckCondition(condition, x);
            m = adaLN_modulation.call(condition!).chunk(6, 1).Select(v => v.unsqueeze(1)).ToArray();   // 6 x [B, 1, C]
        }
        else if (condition is not null)
            throw new ArgumentException("This block was built without TransformerBlockOptions.ConditionDim; it takes no condition.", nameof(condition));

        var h = norm1.call(x);
        if (m is not null) h = Modulate(h, m[0], m[1]);
        var attention = attn.call(input with { X = h });
        x = x.Plus(m is null ? attention.Output : m[2] * attention.Output);  // [B, N, C]

        h = norm2.call(x);
        if (m is not null) h = Modulate(h, m[3], m[4]);
        Tensor? expertLoss = null;
        Tensor ffn;
        if (moe is not null)
        {
            var experts = moe.call(h, input.KeyPaddingMask);
            (ffn, expertLoss) = (experts.Output, experts.BalanceLoss);
        }
        else ffn = mlp!.call(h);
        x = x.Plus(m is null ? ffn : m[5] * ffn);
        return new BlockOutput(x, attention.BalanceLoss, expertLoss, attention.Gates);
    }

    /// <summary>x * (1 + scale) + shift.</summary>
    private static Tensor Modulate(Tensor x, Tensor shift, Tensor scale) => x.addcmul(x, scale, Scalars.Of(1L)).Plus(shift);

    private void CheckCondition(Tensor? condition, Tensor x)
    {
        int width = Options.ConditionDim!.Value;
        if (condition is null)
            throw new ArgumentException($"This block is conditioned (ConditionDim {width}): pass a condition [B, {width}].", nameof(condition));
        if (condition.dim() != 2 || condition.shape[0] != x.shape[0] || condition.shape[1] != width)
            throw new ArgumentException($"The condition must be [B, {width}] = [{x.shape[0]}, {width}]; got [{string.Join(", ", condition.shape)}].", nameof(condition));
    }

    /// <summary>Emits the block for inference; <paramref name="prefix"/> is its state-dict path (e.g. "blocks.0").</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="input">Hidden states [B, N, C], the optional key-padding mask [B, N], rotary embedding and, for a
    /// conditioned block, the condition [B, C_cond].</param>
    /// <param name="prefix">State-dict path of this block.</param>
    /// <returns>The new hidden states [B, N, C].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, OnnxSequenceInput input, string prefix)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(input);
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        string x = input.X;
        string[]? m = null;
        if (adaLN_modulation is not null)
        {
            string condition = input.Condition ?? throw new ArgumentException("This block is conditioned: the ONNX input needs a Condition.", nameof(input));
            m = graph.Split(adaLN_modulation.EmitOnnx(graph, condition, Name("adaLN_modulation")), 1, Enumerable.Repeat((long)attn.Options.Dim, 6).ToArray())
                .Select(v => graph.Unsqueeze(v, 1)).ToArray();                                             // 6 x [B, 1, C]
        }

        string h = norm1.EmitOnnx(graph, x, Name("norm1"));
        if (m is not null) h = EmitModulate(graph, h, m[0], m[1]);
        string attention = attn.EmitOnnx(graph, input with { X = h }, Name("attn"));
        x = graph.Add(x, m is null ? attention : graph.Mul(m[2], attention));

        h = norm2.EmitOnnx(graph, x, Name("norm2"));
        if (m is not null) h = EmitModulate(graph, h, m[3], m[4]);
        string ffn = moe is not null ? moe.EmitOnnx(graph, input with { X = h }, Name("moe")) : mlp!.EmitOnnx(graph, h, Name("mlp"));
        return graph.Add(x, m is null ? ffn : graph.Mul(m[5], ffn));
    }

    private static string EmitModulate(OnnxGraphBuilder graph, string x, string shift, string scale) =>
        graph.Add(graph.Mul(x, graph.Add(graph.Scalar(1f), scale)), shift);
}
