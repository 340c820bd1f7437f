using TorchSharp;
using TorchSharp.Modules;
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
}

/// <summary>What a block returns: the new hidden states plus the routing side results of its two halves.</summary>
/// <param name="X">Hidden states [B, N, C].</param>
/// <param name="AttentionBalanceLoss">The MoH layer's balance loss (training, routed heads only).</param>
/// <param name="ExpertBalanceLoss">The expert layer's balance loss (training, MoE feed-forward only).</param>
/// <param name="HeadGates">Per-token head gates [B, N, H] (0 = head not used).</param>
public sealed record BlockOutput(Tensor X, Tensor? AttentionBalanceLoss, Tensor? ExpertBalanceLoss, Tensor HeadGates);

/// <summary>
/// Pre-norm transformer block: x = x + attn(norm1(x)); x = x + ffn(norm2(x)). One code path serves dense multi-head
/// attention (every head shared) and MoH, and a dense, SMoE or MH-MoE feed-forward. timm/official parameter names:
/// <c>norm1</c>, <c>attn</c>, <c>norm2</c>, and <c>mlp</c> (dense) or <c>moe</c> (experts).
/// </summary>
public sealed class TransformerBlock : nn.Module<AttentionInput, BlockOutput>
{
    /// <summary>Norm before attention.</summary>
    public readonly nn.Module<Tensor, Tensor> norm1;

    /// <summary>The attention layer.</summary>
    public readonly MoHAttention attn;

    /// <summary>Norm before the feed-forward network.</summary>
    public readonly nn.Module<Tensor, Tensor> norm2;

    /// <summary>The dense feed-forward network (null when experts are used).</summary>
    public readonly nn.Module<Tensor, Tensor>? mlp;

    /// <summary>The expert feed-forward layer (null when dense).</summary>
    public readonly MultiHeadMoE? moe;

    /// <summary>The options this block was built with.</summary>
    public TransformerBlockOptions Options { get; }

    /// <summary>Builds the block.</summary>
    public TransformerBlock(TransformerBlockOptions options) : base(nameof(TransformerBlock))
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        int dim = options.Attention.Dim;
        norm1 = Norm(dim, options);
        attn = new MoHAttention(options.Attention);
        norm2 = Norm(dim, options);
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
        RegisterComponents();
    }

    private static nn.Module<Tensor, Tensor> Norm(int dim, TransformerBlockOptions options) =>
        options.UseRmsNorm ? new RMSNorm(dim, options.NormEps) : nn.LayerNorm(dim, options.NormEps);

    /// <inheritdoc />
    public override BlockOutput forward(AttentionInput input)
    {
        var attention = attn.forward(input with { X = norm1.forward(input.X) });
        var x = input.X + attention.Output;                                   // [B, N, C]
        var h = norm2.forward(x);
        Tensor? expertLoss = null;
        if (moe is not null)
        {
            var experts = moe.forward(h);
            x = x + experts.Output;
            expertLoss = experts.BalanceLoss;
        }
        else
        {
            x = x + mlp!.forward(h);
        }
        return new BlockOutput(x, attention.BalanceLoss, expertLoss, attention.Gates);
    }
}
