using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// BERT-compatible text classifier: word + position + token-type embeddings, LayerNorm, post-norm blocks whose
/// attention is dense or MoH (<see cref="PostNormBlock"/>), mean pooling over the real tokens, a linear head. Reads
/// WordPiece ids [B, L] (0 = [PAD]), keeps the first <c>MaxLength</c>. Parameter names: <c>word_embeddings</c>,
/// <c>position_embeddings</c>, <c>token_type_embeddings</c>, <c>embeddings_norm</c>, <c>blocks</c>, <c>head</c>;
/// <see cref="Persistence.PretrainedEncoders"/> maps a Hugging Face BERT's names onto them.
/// </summary>
public sealed class BertEncoder : MixtureHeadsNetwork<Tensor, BertEncoderConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "bert_encoder";

    /// <summary>WordPiece embeddings [VocabularySize, D].</summary>
    public readonly ExportableEmbedding word_embeddings;

    /// <summary>Learned positions [MaxPositions, D].</summary>
    public readonly ExportableEmbedding position_embeddings;

    /// <summary>Token type (segment) embeddings [TokenTypes, D].</summary>
    public readonly ExportableEmbedding token_type_embeddings;

    /// <summary>LayerNorm of the summed embeddings.</summary>
    public readonly ExportableLayerNorm embeddings_norm;

    /// <summary>The post-norm blocks.</summary>
    public readonly ModuleList<PostNormBlock> blocks;

    /// <summary>Classifier D -> classes.</summary>
    public readonly ExportableLinear head;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds a randomly initialised encoder (BERT's recipe: N(0, 0.02) truncated embeddings and head).</summary>
    /// <exception cref="ArgumentException">The config is invalid (the message names the property).</exception>
    public BertEncoder(BertEncoderConfig config) : base(nameof(BertEncoder), config)
    {
        word_embeddings = new ExportableEmbedding(config.VocabularySize, config.Dim);
        position_embeddings = new ExportableEmbedding(config.MaxPositions, config.Dim);
        token_type_embeddings = new ExportableEmbedding(config.TokenTypes, config.Dim);
        embeddings_norm = new ExportableLayerNorm(config.Dim, config.NormEps);
        int hidden = config.FeedForwardOptions.Hidden;
        blocks = new ModuleList<PostNormBlock>(Enumerable.Range(0, config.Depth)
            .Select(_ => new PostNormBlock(config.AttentionOptions, hidden, config.NormEps)).ToArray());
        head = new ExportableLinear(config.Dim, config.Classes);
        RegisterComponents();

        using var noGrad = no_grad();
        foreach (var table in new[] { word_embeddings.weight, position_embeddings.weight, token_type_embeddings.weight, head.weight })
            ParameterInit.TruncatedNormal_(table, std: 0.02);
        nn.init.zeros_(head.bias!);
    }

    /// <summary>
    /// The encoder's last hidden states [B, L, D] for ids [B, L] (as a Hugging Face BERT's <c>last_hidden_state</c>),
    /// with the balance loss and head gates of the blocks.
    /// </summary>
    /// <param name="ids">Int64 WordPiece ids [B, L], L at most MaxPositions.</param>
    /// <param name="mask">Bool [B, L], true for real tokens.</param>
    /// <param name="tokenTypes">Int64 token types [B, L], or null for type 0 everywhere.</param>
    /// <exception cref="ArgumentException">A tensor has the wrong type or shape (the message says which).</exception>
    public (Tensor Hidden, Tensor? BalanceLoss, IReadOnlyList<Tensor> Gates) Encode(Tensor ids, Tensor mask, Tensor? tokenTypes = null)
    {
        CheckIds(ids, nameof(ids));
        if (mask.dtype != ScalarType.Bool || !mask.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"mask must be bool [{string.Join(", ", ids.shape)}]; got {mask.dtype} [{string.Join(", ", mask.shape)}].", nameof(mask));
        if (tokenTypes is not null && (tokenTypes.dtype != ScalarType.Int64 || !tokenTypes.shape.SequenceEqual(ids.shape)))
            throw new ArgumentException($"tokenTypes must be int64 [{string.Join(", ", ids.shape)}]; got {tokenTypes.dtype} [{string.Join(", ", tokenTypes.shape)}].", nameof(tokenTypes));
        long length = ids.shape[1];
        if (length > Config.MaxPositions)
            throw new ArgumentException($"ids hold {length} tokens per row; the position table has {Config.MaxPositions}.", nameof(ids));
        var positions = arange(Scalars.Of(length), ScalarType.Int64, ids.device);                                  // [L]
        var types = tokenTypes ?? zeros(1, 1, ScalarType.Int64, ids.device);
        var x = word_embeddings.call(ids).Plus(position_embeddings.call(positions)).Plus(token_type_embeddings.call(types));   // [B, L, D]
        x = embeddings_norm.call(x);

        var attentionLosses = new List<Tensor>();
        var gates = new List<Tensor>(blocks.Count);
        foreach (var block in blocks)
        {
            var output = block.call(new AttentionInput(x, mask));
            x = output.X;
            if (output.AttentionBalanceLoss is { } loss) attentionLosses.Add(loss);
            gates.Add(output.HeadGates);
        }
        return (x, attentionLosses.Count == 0 ? null : stack(attentionLosses).mean(), gates);
    }

    /// <summary>Class logits [B, classes] for WordPiece ids [B, L] (0 = [PAD]): the first MaxLength ids are encoded and mean-pooled.</summary>
    /// <exception cref="ArgumentException">The ids are not int64 [B, L].</exception>
    public override NetworkOutput forward(Tensor stageIds)
    {
        CheckIds(stageIds, nameof(stageIds));
        var ids = stageIds.narrow(1, 0, Math.Min(stageIds.shape[1], Config.MaxLength));                    // [B, L]
        var mask = ids.ne(Scalars.Of(0L));                                                                   // [B, L], true = real
        var (hidden, balanceLoss, gates) = Encode(ids, mask);
        var weights = mask.unsqueeze(-1).to(hidden.dtype);                                                   // [B, L, 1]
        var pooled = (hidden * weights).sum([1]) / weights.sum([1]).clamp_min(Scalars.Of(1L));              // [B, D]
        return new NetworkOutput(head.call(pooled), balanceLoss, gates);
    }

    /// <summary>Declares the WordPiece id input [batch, sequence] (int64) and emits the forward; returns the logits [batch, classes].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string input = graph.Input(SingleInput(inputNames, nameof(BertEncoder)), OnnxElementType.Int64, "batch", "sequence");
        string ids = graph.Slice(input, starts: [0], ends: [Config.MaxLength], axes: [1]);                 // [B, L]
        string mask = graph.Not(graph.Equal(ids, graph.Scalar(0L)));                                        // [B, L]
        string x = EmitHidden(graph, ids, mask);
        string weights = graph.Unsqueeze(graph.Cast(mask, OnnxElementType.Float), -1);                     // [B, L, 1]
        string count = graph.Max(graph.ReduceSum(weights, [1], keepDims: false), graph.Scalar(1f));        // [B, 1]
        string pooled = graph.Div(graph.ReduceSum(graph.Mul(x, weights), [1], keepDims: false), count);    // [B, D]
        return head.EmitOnnx(graph, pooled, "head");
    }

    /// <summary>Emits <see cref="Encode"/> with token type 0: the last hidden states [B, L, D].</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="ids">Int64 ids [B, L].</param>
    /// <param name="mask">Bool [B, L], true for real tokens.</param>
    public string EmitHidden(OnnxGraphBuilder graph, string ids, string mask)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string length = graph.Shape(ids, 1, 2);
        string positions = graph.Range(graph.Scalar(0L), graph.Squeeze(length, 0), graph.Scalar(1L));   // [L]
        string x = graph.Add(graph.Add(word_embeddings.EmitOnnx(graph, ids, "word_embeddings"),
            position_embeddings.EmitOnnx(graph, positions, "position_embeddings")),
            token_type_embeddings.EmitOnnx(graph, graph.Scalar(0L), "token_type_embeddings"));              // [B, L, D]
        x = embeddings_norm.EmitOnnx(graph, x, "embeddings_norm");
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].EmitOnnx(graph, new OnnxSequenceInput(x, mask), $"blocks.{i}");
        return x;
    }

    private static void CheckIds(Tensor ids, string name)
    {
        if (ids.dim() != 2 || ids.dtype != ScalarType.Int64)
            throw new ArgumentException($"Expected int64 token ids [B, L], got {ids.dtype} [{string.Join(", ", ids.shape)}].", name);
    }
}
