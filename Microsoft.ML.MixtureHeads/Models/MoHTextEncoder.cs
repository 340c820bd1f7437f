using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Transformer text classifier whose attention is Mixture-of-Head attention. Takes the tokenization stage's ids
/// [B, L] (0 = padding), keeps the first <c>MaxLength</c>, maps them to embedding rows with its vocabulary, embeds,
/// runs pre-norm blocks with a key-padding mask (and rotary or learned positions), pools and classifies.
/// Parameter names: <c>vocabulary</c>, <c>tok_embeddings</c>, <c>pos_embed</c>, <c>blocks</c>, <c>norm</c>, <c>head</c>.
/// </summary>
public sealed class MoHTextEncoder : MixtureHeadsNetwork<Tensor, TextEncoderConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "text_encoder";

    /// <summary>Stage id -> embedding row (a saved buffer).</summary>
    public readonly VocabularyLookup vocabulary;

    /// <summary>Token embeddings [VocabularySize, D].</summary>
    public readonly ExportableEmbedding tok_embeddings;

    /// <summary>Learned positions [1, MaxLength, D] (only with <see cref="TokenPositions.Learned"/>).</summary>
    public readonly Parameter? pos_embed;

    /// <summary>Rotary tables (only with <see cref="TokenPositions.Rotary"/>; not saved, rebuilt from the config).</summary>
    public readonly RotaryEmbedding? rotary;

    /// <summary>The transformer blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>Final norm.</summary>
    public readonly RMSNorm norm;

    /// <summary>Classifier D -> classes.</summary>
    public readonly ExportableLinear head;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds a freshly initialised model for <paramref name="compactVocabulary"/> (null: an empty one of the config's size, to be loaded).</summary>
    public MoHTextEncoder(TextEncoderConfig config, CompactVocabulary? compactVocabulary = null) : base(nameof(MoHTextEncoder), config)
    {
        compactVocabulary ??= CompactVocabulary.Build([], maxSize: CompactVocabulary.ReservedCount, stageIdSpace: config.StageIdSpace);
        if (compactVocabulary.StageIdSpace != config.StageIdSpace)
            throw new ArgumentException($"The vocabulary covers {compactVocabulary.StageIdSpace} stage ids; the config says {config.StageIdSpace}.", nameof(compactVocabulary));
        if (compactVocabulary.Size > config.VocabularySize)
            throw new ArgumentException($"The vocabulary has {compactVocabulary.Size} entries; the config's VocabularySize is {config.VocabularySize}.", nameof(compactVocabulary));

        vocabulary = new VocabularyLookup(compactVocabulary);
        tok_embeddings = new ExportableEmbedding(config.VocabularySize, config.Dim, paddingIndex: CompactVocabulary.Padding);
        if (config.Positions == TokenPositions.Learned) pos_embed = new Parameter(zeros(1, config.MaxLength, config.Dim));
        else rotary = new RotaryEmbedding(config.Dim / config.Heads, config.MaxLength);
        blocks = BlockStack.Create(config, useRmsNorm: true);
        norm = new RMSNorm(config.Dim, 1e-6);
        head = new ExportableLinear(config.Dim, config.Classes);
        RegisterComponents();

        using (no_grad())
        {
            ParameterInit.TruncatedNormal_(tok_embeddings.weight, std: 0.02);
            tok_embeddings.weight[CompactVocabulary.Padding].zero_();
            if (pos_embed is not null) ParameterInit.TruncatedNormal_(pos_embed, std: 0.02);
            ParameterInit.TruncatedNormal_(head.weight, std: 0.02);
            nn.init.zeros_(head.bias!);
        }
    }

    /// <inheritdoc />
    public override NetworkOutput forward(Tensor stageIds)
    {
        if (stageIds.dim() != 2 || stageIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"Expected int64 token ids [B, L], got {stageIds.dtype} [{string.Join(", ", stageIds.shape)}].", nameof(stageIds));
        var ids = vocabulary.call(stageIds.narrow(1, 0, Math.Min(stageIds.shape[1], Config.MaxLength)));   // [B, L]
        var mask = ids.ne(Scalars.Of(CompactVocabulary.Padding));                                              // [B, L], true = real
        var x = tok_embeddings.call(ids);                                                                   // [B, L, D]
        if (pos_embed is not null) x = x.Plus(pos_embed.narrow(1, 0, ids.shape[1]));

        (x, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(x, mask, rotary));
        x = norm.call(x);
        Tensor pooled;
        if (Config.Pooling == TextPooling.Start) pooled = x[.., 0];                                            // [B, D]
        else
        {
            var weights = mask.unsqueeze(-1).to(x.dtype);                                                     // [B, L, 1]
            pooled = (x * weights).sum([1]) / weights.sum([1]).clamp_min(Scalars.Of(1L));                         // [B, D]
        }
        return new NetworkOutput(head.call(pooled), balanceLoss, gates);
    }

    /// <summary>Declares the token-id input [batch, sequence] (int64) and emits the forward; returns the logits [batch, classes].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        var (ids, mask) = TokenInputOnnx.Emit(graph, SingleInput(inputNames, nameof(MoHTextEncoder)), vocabulary, Config.MaxLength);   // [B, L] each
        string x = tok_embeddings.EmitOnnx(graph, ids, "tok_embeddings");                                     // [B, L, D]
        if (pos_embed is not null)
        {
            string length = graph.Shape(ids, 1, 2);
            x = graph.Add(x, graph.Slice(graph.Initializer("pos_embed", pos_embed), graph.Vector(0), length, graph.Vector(1)));
        }
        x = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(x, mask, rotary));
        x = norm.EmitOnnx(graph, x, "norm");
        string pooled;
        if (Config.Pooling == TextPooling.Start) pooled = graph.Gather(x, graph.Scalar(0L), axis: 1);
        else
        {
            string weights = graph.Unsqueeze(graph.Cast(mask, OnnxElementType.Float), -1);                   // [B, L, 1]
            string count = graph.Max(graph.ReduceSum(weights, [1], keepDims: false), graph.Scalar(1f));      // [B, 1]
            pooled = graph.Div(graph.ReduceSum(graph.Mul(x, weights), [1], keepDims: false), count);         // [B, D]
        }
        return head.EmitOnnx(graph, pooled, "head");
    }
}
