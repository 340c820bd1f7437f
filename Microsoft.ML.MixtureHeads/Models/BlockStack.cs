using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The stack of transformer blocks every model runs: built from a config, run in order, emitted to ONNX.</summary>
internal static class BlockStack
{
    /// <summary>Config.Depth identical blocks (each with its own weights).</summary>
    /// <param name="config">Width, depth, heads, routing and feed-forward of every block.</param>
    /// <param name="useRmsNorm">RMSNorm instead of LayerNorm.</param>
    /// <param name="causal">Causal self-attention (a decoder).</param>
    /// <param name="conditionDim">Width of an adaLN conditioning vector, or null for unconditioned blocks.</param>
    public static ModuleList<TransformerBlock> Create(TransformerConfig config, bool useRmsNorm, bool causal = false, int? conditionDim = null)
    {
        var options = new TransformerBlockOptions
        {
            Attention = config.AttentionOptions with { Causal = causal },
            FeedForward = config.FeedForwardOptions,
            UseRmsNorm = useRmsNorm,
            ConditionDim = conditionDim,
        };
        return new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Depth).Select(_ => new TransformerBlock(options)).ToArray());
    }

    /// <summary>Runs the blocks on <paramref name="input"/> (x [B, N, C], its key padding and rotary embedding).</summary>
    /// <param name="blocks">The stack.</param>
    /// <param name="input">What every block's attention reads besides the hidden states.</param>
    /// <param name="condition">The conditioning vector [B, C_cond] of conditioned blocks, or null.</param>
    /// <param name="caches">One key/value cache per block for incremental decoding, or null.</param>
    /// <returns>The hidden states, the model's balance loss (the mean over attention layers with routed heads plus
    /// the sum over expert layers, as the official MoH and MH-MoE code; null in eval mode or without routing), and
    /// every block's head gates [B, N, H].</returns>
    public static (Tensor X, Tensor? BalanceLoss, IReadOnlyList<Tensor> Gates) Forward(
        ModuleList<TransformerBlock> blocks, AttentionInput input, Tensor? condition = null, IReadOnlyList<KeyValueCache>? caches = null)
    {
        if (caches is not null && caches.Count != blocks.Count)
            throw new ArgumentException($"{caches.Count} caches for {blocks.Count} blocks.", nameof(caches));
        var attentionLosses = new List<Tensor>();
        var expertLosses = new List<Tensor>();
        var gates = new List<Tensor>(blocks.Count);
        var x = input.X;
        for (int i = 0; i < blocks.Count; i++)
        {
            var output = blocks[i].call(input with { X = x, Cache = caches?[i] }, condition);
            x = output.X;
            if (output.AttentionBalanceLoss is { } a) attentionLosses.Add(a);
            if (output.ExpertBalanceLoss is { } e) expertLosses.Add(e);
            gates.Add(output.HeadGates);
        }
        Tensor? balance = attentionLosses.Count == 0 ? null : stack(attentionLosses).mean();
        if (expertLosses.Count > 0) balance = balance is null ? stack(expertLosses).sum() : balance.Plus(stack(expertLosses).sum());
        return (x, balance, gates);
    }

    /// <summary>Emits the blocks in order under the state-dict paths <c>blocks.{i}</c>, block i reading <paramref name="caches"/>[i] when given.</summary>
    public static string EmitOnnx(ModuleList<TransformerBlock> blocks, OnnxGraphBuilder graph, OnnxSequenceInput input, IReadOnlyList<OnnxKeyValueCache>? caches = null)
    {
        if (caches is not null && caches.Count != blocks.Count)
            throw new ArgumentException($"{caches.Count} caches for {blocks.Count} blocks.", nameof(caches));
        string x = input.X;
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].EmitOnnx(graph, input with { X = x, Cache = caches?[i] }, $"blocks.{i}");
        return x;
    }
}
