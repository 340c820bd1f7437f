using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Post-norm transformer block, as BERT's layer: x = norm1(x + attn(x)); x = norm2(x + mlp(x)), LayerNorm and an exact
/// (erf) GELU MLP. The attention is any <see cref="MoHAttention"/>: dense for a pretrained BERT, MoH after conversion.
/// Parameter names: <c>attn</c> (<c>qkv</c>, <c>proj</c>, routers), <c>norm1</c>, <c>mlp</c> (<c>fc1</c>, <c>fc2</c>), <c>norm2</c>.
/// </summary>
public sealed class PostNormBlock : nn.Module<AttentionInput, BlockOutput>, IOnnxExportable<OnnxSequenceInput>
{
    /// <summary>The attention layer.</summary>
    public readonly MoHAttention attn;

    /// <summary>Norm after the attention residual.</summary>
    public readonly ExportableLayerNorm norm1;

    /// <summary>The feed-forward network.</summary>
    public readonly GeluMlp mlp;

    /// <summary>Norm after the feed-forward residual.</summary>
    public readonly ExportableLayerNorm norm2;

    /// <summary>Builds the block.</summary>
    /// <param name="attention">The attention layer's options.</param>
    /// <param name="hidden">The MLP's hidden width (BERT: 4 x dim).</param>
    /// <param name="normEps">Epsilon of both LayerNorms (BERT: 1e-12).</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    public PostNormBlock(MoHAttentionOptions attention, int hidden, double normEps) : base(nameof(PostNormBlock))
    {
        ArgumentNullException.ThrowIfNull(attention);
        attn = new MoHAttention(attention);
        norm1 = new ExportableLayerNorm(attention.Dim, normEps);
        mlp = new GeluMlp(attention.Dim, hidden);
        norm2 = new ExportableLayerNorm(attention.Dim, normEps);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override BlockOutput forward(AttentionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var attention = attn.call(input);
        var x = norm1.call(input.X.Plus(attention.Output));                   // [B, N, C]
        x = norm2.call(x.Plus(mlp.call(x)));
        return new BlockOutput(x, attention.BalanceLoss, null, attention.Gates);
    }

    /// <summary>Emits the block for inference; <paramref name="prefix"/> is its state-dict path (e.g. "blocks.0").</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="input">Hidden states [B, N, C] and the optional key-padding mask [B, N].</param>
    /// <param name="prefix">State-dict path of this block.</param>
    /// <returns>The new hidden states [B, N, C].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, OnnxSequenceInput input, string prefix)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(input);
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        string x = norm1.EmitOnnx(graph, graph.Add(input.X, attn.EmitOnnx(graph, input, Name("attn"))), Name("norm1"));
        return norm2.EmitOnnx(graph, graph.Add(x, mlp.EmitOnnx(graph, x, Name("mlp"))), Name("norm2"));
    }
}
