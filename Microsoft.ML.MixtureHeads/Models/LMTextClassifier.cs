using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// A text classifier whose encoder is a pretrained byte-level <see cref="MoHCausalLM"/>: the LM's token embeddings,
/// causal blocks and final norm read the text, the hidden states of the real tokens are averaged, and a new linear
/// head classifies. Input: the ids of <see cref="Scoring.ByteTokenization"/> [B, L] (id = LM token + 1, 0 = padding);
/// a text keeps its first <c>MaxLength</c> ids. Parameter names: the LM's (<c>tok_embeddings</c>, <c>blocks</c>,
/// <c>norm</c>) plus <c>head</c>.
/// </summary>
public sealed class LMTextClassifier : MixtureHeadsNetwork<Tensor, LMTextClassifierConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "lm_text_classifier";

    /// <summary>The LM's token embeddings [257, D].</summary>
    public readonly ExportableEmbedding tok_embeddings;

    /// <summary>Rotary tables (not saved; rebuilt from the config).</summary>
    public readonly RotaryEmbedding rotary;

    /// <summary>The LM's causal blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>The LM's final norm.</summary>
    public readonly RMSNorm norm;

    /// <summary>The classifier D -> classes (new).</summary>
    public readonly ExportableLinear head;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>A freshly initialised classifier (the encoder as a new LM would start; load or copy weights next).</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    public LMTextClassifier(LMTextClassifierConfig config) : base(nameof(LMTextClassifier), config)
    {
        var lm = config.Language;
        tok_embeddings = new ExportableEmbedding(lm.VocabularySize, lm.Dim);
        rotary = new RotaryEmbedding(lm.AttentionOptions.ResolvedHeadDim, lm.MaxLength, lm.RotaryTheta);
        blocks = new ModuleList<TransformerBlock>(Enumerable.Range(0, lm.Depth).Select(i => new TransformerBlock(lm.BlockOptions(i))).ToArray());
        norm = new RMSNorm(lm.Dim, lm.NormEps);
        head = new ExportableLinear(lm.Dim, config.Classes);
        RegisterComponents();
        using (no_grad())
        {
            ParameterInit.TruncatedNormal_(tok_embeddings.weight, std: 0.02);
            ParameterInit.TruncatedNormal_(head.weight, std: 0.02);
            nn.init.zeros_(head.bias!);
        }
    }

    /// <summary>
    /// A classifier whose embeddings, blocks and final norm are copies of <paramref name="languageModel"/>'s weights
    /// and whose head is new; the LM itself is left as it is.
    /// </summary>
    /// <param name="languageModel">A byte-level LM (257 ids), e.g. from <see cref="Persistence.CausalLMCheckpoint.Load"/>.</param>
    /// <param name="classes">Classes of the head.</param>
    /// <param name="maxLength">Tokens a text keeps; null: the LM's MaxLength.</param>
    /// <exception cref="ArgumentException">The LM is not byte-level, or classes / maxLength are out of range.</exception>
    public static LMTextClassifier FromLanguageModel(MoHCausalLM languageModel, int classes, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(languageModel);
        var classifier = new LMTextClassifier(new LMTextClassifierConfig
        {
            Language = languageModel.Config, Classes = classes, MaxLength = maxLength ?? languageModel.Config.MaxLength,
        });
        var source = languageModel.state_dict();
        using (no_grad())
        {
            foreach (var (name, target) in classifier.state_dict())
            {
                if (name.StartsWith("head.", StringComparison.Ordinal)) continue;
                target.copy_(source[name]);
            }
        }
        return classifier;
    }

    /// <inheritdoc />
    public override NetworkOutput forward(Tensor stageIds)
    {
        if (stageIds.dim() != 2 || stageIds.dtype != ScalarType.Int64 || stageIds.shape[1] == 0)
            throw new ArgumentException($"Expected int64 byte token ids [B, L] with L >= 1, got {stageIds.dtype} [{string.Join(", ", stageIds.shape)}].", nameof(stageIds));
        var kept = stageIds.narrow(1, 0, Math.Min(stageIds.shape[1], Config.MaxLength));             // [B, L]
        var mask = kept.ne(Scalars.Of(0L));                                                           // [B, L], true = real
        var ids = kept.Plus(-1L).clamp(Scalars.Of(0L), Scalars.Of((long)Config.Language.VocabularySize - 1));
        var x = tok_embeddings.call(ids);                                                             // [B, L, D]
        (x, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(x, mask, rotary));
        x = norm.call(x);
        var weights = mask.unsqueeze(-1).to(x.dtype);                                                 // [B, L, 1]
        var pooled = (x * weights).sum([1]) / weights.sum([1]).clamp_min(Scalars.Of(1L));              // [B, D]
        return new NetworkOutput(head.call(pooled), balanceLoss, gates);
    }

    /// <summary>Declares the byte-id input [batch, sequence] (int64) and emits the forward; returns the logits [batch, classes].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string stageIds = graph.Input(SingleInput(inputNames, nameof(LMTextClassifier)), OnnxElementType.Int64, "batch", "sequence");
        string kept = graph.Slice(stageIds, starts: [0], ends: [Config.MaxLength], axes: [1]);          // [B, L]
        string mask = graph.Not(graph.Equal(kept, graph.Scalar(0L)));                                   // [B, L]
        string ids = graph.Clip(graph.Sub(kept, graph.Scalar(1L)), graph.Scalar(0L), graph.Scalar((long)Config.Language.VocabularySize - 1));
        string x = tok_embeddings.EmitOnnx(graph, ids, "tok_embeddings");                               // [B, L, D]
        x = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(x, mask, rotary));
        x = norm.EmitOnnx(graph, x, "norm");
        string weights = graph.Unsqueeze(graph.Cast(mask, OnnxElementType.Float), -1);                 // [B, L, 1]
        string count = graph.Max(graph.ReduceSum(weights, [1], keepDims: false), graph.Scalar(1f));    // [B, 1]
        string pooled = graph.Div(graph.ReduceSum(graph.Mul(x, weights), [1], keepDims: false), count); // [B, D]
        return head.EmitOnnx(graph, pooled, "head");
    }
}
