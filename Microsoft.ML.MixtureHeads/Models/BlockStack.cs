using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The stack of transformer blocks every model runs: built from a config, run in order, emitted to ONNX.</summary>
internal static class BlockStack
{
    /// <summary>Config.Depth identical blocks (each with its own weights).</summary>
    public static ModuleList<TransformerBlock> Create(TransformerConfig config, bool useRmsNorm)
    {
        var options = new TransformerBlockOptions { Attention = config.AttentionOptions, FeedForward = config.FeedForwardOptions, UseRmsNorm = useRmsNorm };
        return new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Depth).Select(_ => new TransformerBlock(options)).ToArray());
    }

    /// <summary>Runs the blocks on x [B, N, C].</summary>
    /// <returns>The hidden states, the model's balance loss (the mean over attention layers with routed heads plus
    /// the sum over expert layers, as the official MoH and MH-MoE code; null in eval mode or without routing), and
    /// every block's head gates [B, N, H].</returns>
    public static (Tensor X, Tensor? BalanceLoss, IReadOnlyList<Tensor> Gates) Forward(
        ModuleList<TransformerBlock> blocks, Tensor x, Tensor? keyPaddingMask = null, RotaryEmbedding? rotary = null)
    {
        var attentionLosses = new List<Tensor>();
        var expertLosses = new List<Tensor>();
        var gates = new List<Tensor>(blocks.Count);
        foreach (var block in blocks)
        {
            var output = block.forward(new AttentionInput(x, keyPaddingMask, rotary));
            x = output.X;
            if (output.AttentionBalanceLoss is { } a) attentionLosses.Add(a);
            if (output.ExpertBalanceLoss is { } e) expertLosses.Add(e);
            gates.Add(output.HeadGates);
        }
        Tensor? balance = attentionLosses.Count == 0 ? null : stack(attentionLosses).mean();
        if (expertLosses.Count > 0) balance = balance is null ? stack(expertLosses).sum() : balance.Plus(stack(expertLosses).sum());
        return (x, balance, gates);
    }

    /// <summary>Emits the blocks in order under the state-dict paths <c>blocks.{i}</c>.</summary>
    public static string EmitOnnx(ModuleList<TransformerBlock> blocks, OnnxGraphBuilder graph, string x, string? keyPaddingMask = null, RotaryEmbedding? rotary = null)
    {
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].EmitOnnx(graph, x, $"blocks.{i}", keyPaddingMask, rotary);
        return x;
    }
}
