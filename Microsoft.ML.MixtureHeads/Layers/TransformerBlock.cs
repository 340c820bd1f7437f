using Microsoft.ML.MixtureHeads.Onnx;
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
        var x = input.X.Plus(attention.Output);                               // [B, N, C]
        var h = norm2.forward(x);
        Tensor? expertLoss = null;
        if (moe is not null)
        {
            var experts = moe.forward(h);
            x = x.Plus(experts.Output);
            expertLoss = experts.BalanceLoss;
        }
        else
        {
            x = x.Plus(mlp!.forward(h));
        }
        return new BlockOutput(x, attention.BalanceLoss, expertLoss, attention.Gates);
    }

    /// <summary>Emits the block for inference; <paramref name="prefix"/> is its state-dict path (e.g. "blocks.0").</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="x">Hidden states [B, N, C].</param>
    /// <param name="prefix">State-dict path of this block.</param>
    /// <param name="keyPaddingMask">Optional bool [B, N], true = real token.</param>
    /// <param name="rotary">Optional rotary embedding applied to queries and keys.</param>
    /// <returns>The new hidden states [B, N, C].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, string x, string prefix, string? keyPaddingMask = null, RotaryEmbedding? rotary = null)
    {
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        string attention = attn.EmitOnnx(graph, EmitNorm(graph, norm1, x, Name("norm1")), Name("attn"), keyPaddingMask, rotary);
        x = graph.Add(x, attention);
        string h = EmitNorm(graph, norm2, x, Name("norm2"));
        string ffn = moe is not null ? moe.EmitOnnx(graph, h, Name("moe")) : EmitDense(graph, mlp!, h, Name("mlp"));
        return graph.Add(x, ffn);
    }

    private static string EmitNorm(OnnxGraphBuilder graph, nn.Module<Tensor, Tensor> norm, string x, string prefix) => norm switch
    {
        LayerNorm layerNorm => graph.LayerNorm(layerNorm, x, prefix),
        RMSNorm rmsNorm => rmsNorm.EmitOnnx(graph, x, prefix),
        _ => throw new NotSupportedException($"No ONNX emission for norm {norm.GetType().Name}."),
    };

    private static string EmitDense(OnnxGraphBuilder graph, nn.Module<Tensor, Tensor> mlp, string x, string prefix) => mlp switch
    {
        GeluMlp gelu => gelu.EmitOnnx(graph, x, prefix),
        SwiGLU swiglu => swiglu.EmitOnnx(graph, x, prefix),
        _ => throw new NotSupportedException($"No ONNX emission for feed-forward {mlp.GetType().Name}."),
    };
}
