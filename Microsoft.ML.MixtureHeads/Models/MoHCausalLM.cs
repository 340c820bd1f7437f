using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Decoder-only language model whose attention is Mixture-of-Head attention (dense, learned or parameter-free
/// routing) and whose feed-forward layers are dense SwiGLU or expert layers (SMoE, fine-grained SMoE, MH-MoE):
/// token embedding -> pre-norm causal blocks with rotary positions -> RMSNorm -> logits over the vocabulary.
/// Parameter names: <c>tok_embeddings</c>, <c>blocks.{i}.norm1/attn/norm2/mlp|moe</c>, <c>norm</c>, <c>lm_head</c>
/// (absent with tied embeddings).
/// </summary>
public sealed class MoHCausalLM : MixtureHeadsNetwork<Tensor, CausalLMConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "causal_lm";

    /// <summary>Token embeddings [V, D]; also the output projection with tied embeddings.</summary>
    public readonly ExportableEmbedding tok_embeddings;

    /// <summary>Rotary tables for <c>MaxLength</c> positions (not saved; rebuilt from the config).</summary>
    public readonly RotaryEmbedding rotary;

    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>Final norm.</summary>
    public readonly RMSNorm norm;

    /// <summary>Output projection D -> V without bias (null with tied embeddings).</summary>
    public readonly ExportableLinear? lm_head;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds a freshly initialised model: embeddings and output projection trunc-normal std 0.02, blocks as their layers initialise.</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    public MoHCausalLM(CausalLMConfig config) : base(nameof(MoHCausalLM), config)
    {
        tok_embeddings = new ExportableEmbedding(config.VocabularySize, config.Dim);
        rotary = new RotaryEmbedding(config.AttentionOptions.ResolvedHeadDim, config.MaxLength, config.RotaryTheta);
        blocks = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Depth).Select(i => new TransformerBlock(config.BlockOptions(i))).ToArray());
        norm = new RMSNorm(config.Dim, config.NormEps);
        if (!config.TieEmbeddings) lm_head = new ExportableLinear(config.Dim, config.VocabularySize, hasBias: false);
        RegisterComponents();
        using (no_grad())
        {
            ParameterInit.TruncatedNormal_(tok_embeddings.weight, std: 0.02);
            if (lm_head is not null) ParameterInit.TruncatedNormal_(lm_head.weight, std: 0.02);
        }
    }

    /// <summary>An empty key/value cache for incremental decoding with this model.</summary>
    public CausalLMCache CreateCache() => new(Config.Depth);

    /// <summary>Next-token logits for every position of <paramref name="tokens"/> [B, T] (int64 ids): [B, T, V].</summary>
    /// <exception cref="ArgumentException">The ids are not int64 [B, T], lie outside the vocabulary, or T exceeds MaxLength.</exception>
    public override NetworkOutput forward(Tensor tokens) => Forward(tokens, null);

    /// <summary>
    /// Incremental decoding: the logits [B, T, V] of the new <paramref name="tokens"/> [B, T], which sit at positions
    /// <c>cache.Length</c> onwards and attend to every cached position; their keys and values are appended to
    /// <paramref name="cache"/>. Equal to the last T positions of a full forward over the whole sequence.
    /// </summary>
    /// <exception cref="ArgumentException">Bad ids, a cache of another depth, or the sequence would exceed MaxLength.</exception>
    public NetworkOutput forward(Tensor tokens, CausalLMCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Layers.Count != blocks.Count)
            throw new ArgumentException($"The cache holds {cache.Layers.Count} layers; this model has {blocks.Count} blocks.", nameof(cache));
        return Forward(tokens, cache);
    }

    private NetworkOutput Forward(Tensor tokens, CausalLMCache? cache)
    {
        CheckTokens(tokens, cache?.Length ?? 0);
        var x = tok_embeddings.call(tokens);                                                    // [B, T, D]
        (x, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(x, Rotary: rotary), caches: cache?.Layers);
        x = norm.call(x);                                                                       // [B, T, D]
        var logits = lm_head is null ? F.linear(x, tok_embeddings.weight) : lm_head.call(x);    // [B, T, V]
        return new NetworkOutput(logits, balanceLoss, gates);
    }

    private void CheckTokens(Tensor tokens, long past)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2 || tokens.dtype != ScalarType.Int64 || tokens.shape[0] == 0 || tokens.shape[1] == 0)
            throw new ArgumentException($"Expected int64 token ids [B, T] with B, T >= 1; got {tokens.dtype} [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        if (past + tokens.shape[1] > Config.MaxLength)
            throw new ArgumentException(
                $"{past} cached + {tokens.shape[1]} new positions exceed the model's MaxLength {Config.MaxLength}.", nameof(tokens));
        long low = tokens.min().item<long>(), high = tokens.max().item<long>();
        if (low < 0 || high >= Config.VocabularySize)
            throw new ArgumentException($"Token ids must lie in [0, {Config.VocabularySize}); got ids from {low} to {high}.", nameof(tokens));
    }

    /// <summary>Declares the token-id input [batch, sequence] (int64) and emits the full (uncached) forward; returns the logits [batch, sequence, V].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string ids = graph.Input(SingleInput(inputNames, nameof(MoHCausalLM)), OnnxElementType.Int64, "batch", "sequence");
        return EmitLogitsOnnx(graph, ids);
    }

    /// <summary>Emits the full (uncached) forward over int64 token ids [batch, sequence] already in the graph; returns the logits [batch, sequence, V].</summary>
    internal string EmitLogitsOnnx(OnnxGraphBuilder graph, string ids)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string x = tok_embeddings.EmitOnnx(graph, ids, "tok_embeddings");                       // [B, T, D]
        x = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(x, Rotary: rotary));
        return EmitLogits(graph, x);
    }

    /// <summary>
    /// Emits the decoder with a key/value cache, the twin of <see cref="forward(Tensor, CausalLMCache)"/>: inputs
    /// <c>input_ids</c> [batch, sequence] (int64) and per block i <c>past_key_i</c> / <c>past_value_i</c>
    /// [batch, H, past_sequence, D] (past_sequence may be 0); outputs <c>logits</c> [batch, sequence, V] and
    /// <c>present_key_i</c> / <c>present_value_i</c> [batch, H, past_sequence + sequence, D], which feed the next step's
    /// past. The new tokens sit at positions P onwards (rotary and causal mask); routing and experts as in eval mode.
    /// </summary>
    /// <param name="graph">An empty graph; the caller adds metadata and serialises it.</param>
    public void EmitDecoderOnnx(OnnxGraphBuilder graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int heads = Config.Heads, headDim = Config.AttentionOptions.ResolvedHeadDim;
        string ids = graph.Input(CausalLMDecoderGraph.InputIds, OnnxElementType.Int64, "batch", "sequence");
        var caches = Enumerable.Range(0, blocks.Count).Select(i => new OnnxKeyValueCache(
            graph.Input(CausalLMDecoderGraph.PastKey(i), OnnxElementType.Float, "batch", heads, "past_sequence", headDim),
            graph.Input(CausalLMDecoderGraph.PastValue(i), OnnxElementType.Float, "batch", heads, "past_sequence", headDim))).ToArray();
        string x = tok_embeddings.EmitOnnx(graph, ids, "tok_embeddings");                       // [B, T, D]
        x = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(x, Rotary: rotary), caches);
        graph.Output(EmitLogits(graph, x), CausalLMDecoderGraph.Logits, OnnxElementType.Float, "batch", "sequence", Config.VocabularySize);
        for (int i = 0; i < caches.Length; i++)
        {
            graph.Output(caches[i].PresentKeys!, CausalLMDecoderGraph.PresentKey(i), OnnxElementType.Float, "batch", heads, "total_sequence", headDim);
            graph.Output(caches[i].PresentValues!, CausalLMDecoderGraph.PresentValue(i), OnnxElementType.Float, "batch", heads, "total_sequence", headDim);
        }
    }

    /// <summary>Final norm and output projection of the hidden states [B, T, D]: logits [B, T, V].</summary>
    private string EmitLogits(OnnxGraphBuilder graph, string x)
    {
        x = norm.EmitOnnx(graph, x, "norm");
        if (lm_head is not null) return lm_head.EmitOnnx(graph, x, "lm_head");
        var table = graph.Initializer("tok_embeddings.weight", tok_embeddings.weight);            // [V, D], shared with the Gather
        return graph.MatMul(x, graph.Transpose(table, 1, 0));                                   // [B, T, V]
    }
}
