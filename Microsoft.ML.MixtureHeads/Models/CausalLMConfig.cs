using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// Everything that defines a <see cref="MoHCausalLM"/>: the shared transformer settings (width, depth, heads and
/// their routing, feed-forward, BitLinear) plus vocabulary, context length, where expert layers sit and whether the
/// output projection reuses the token embeddings. Saved as JSON inside every exported model.
/// </summary>
/// <remarks>
/// As in LLaMA and the MH-MoE code (specs/mhmoe.md section 2): pre-norm RMSNorm, rotary positions, no biases in
/// attention. With <see cref="TransformerConfig.Linear"/> = BitLinear the attention projections and dense
/// feed-forward layers are BitNet b1.58; embeddings, output projection, routers and norms stay full precision
/// (specs/mhmoe.md section 4); experts follow <c>MoE.ExpertLinear</c>.
/// </remarks>
public sealed record CausalLMConfig : TransformerConfig
{
    /// <summary>Token ids the model reads and predicts. Default 257: the bytes plus an end-of-text id.</summary>
    public int VocabularySize { get; init; } = 257;

    /// <summary>The longest sequence (prompt plus generated tokens) the model attends over. Default 256.</summary>
    public int MaxLength { get; init; } = 256;

    /// <summary>Feed-forward kind: dense SwiGLU (default) or expert layers (SMoE, fine-grained SMoE, MH-MoE via <see cref="MoEPresets"/>).</summary>
    public override FeedForwardKind FeedForward { get; init; } = FeedForwardKind.SwiGLU;

    /// <summary>
    /// With an expert feed-forward, block i (0-based) uses it when (i + 1) is a multiple of this interval and a dense
    /// SwiGLU of <c>Dim * MlpRatio</c> otherwise; 2 is the 2411.16205 setup (MoE every second layer). Default 1 (every block).
    /// </summary>
    public int MoEInterval { get; init; } = 1;

    /// <summary>Whether the output projection is the token embedding table (logits = h E^T). Default true.</summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>Base of the rotary frequencies. Default 10000.</summary>
    public double RotaryTheta { get; init; } = 10000;

    /// <summary>Epsilon of every RMSNorm. Default 1e-6.</summary>
    public double NormEps { get; init; } = 1e-6;

    /// <summary>Whether block <paramref name="index"/> (0-based) has the expert feed-forward.</summary>
    public bool HasExperts(int index) => FeedForward == FeedForwardKind.MultiHeadMoE && (index + 1) % MoEInterval == 0;

    /// <summary>The options of block <paramref name="index"/> (0-based): causal bias-free attention, RMSNorm, its feed-forward.</summary>
    public TransformerBlockOptions BlockOptions(int index)
    {
        var feedForward = FeedForwardOptions;
        if (FeedForward == FeedForwardKind.MultiHeadMoE && !HasExperts(index))
            feedForward = feedForward with { Kind = FeedForwardKind.SwiGLU, MoE = null };
        return new TransformerBlockOptions
        {
            Attention = AttentionOptions with { Causal = true, QkvBias = false, ProjBias = false },
            FeedForward = feedForward,
            UseRmsNorm = true,
            NormEps = NormEps,
        };
    }

    /// <inheritdoc />
    public override void Validate()
    {
        Require(VocabularySize >= 2, nameof(VocabularySize), $"must be at least 2, got {VocabularySize}.");
        Require(MaxLength >= 1, nameof(MaxLength), $"must be at least 1, got {MaxLength}.");
        Require(MoEInterval >= 1, nameof(MoEInterval), $"must be at least 1, got {MoEInterval}.");
        Require(FeedForward is FeedForwardKind.SwiGLU or FeedForwardKind.MultiHeadMoE, nameof(FeedForward),
            $"must be SwiGLU or MultiHeadMoE for a causal LM, got {FeedForward}.");
        Require(double.IsFinite(RotaryTheta) && RotaryTheta > 1, nameof(RotaryTheta), $"must be a finite number above 1, got {RotaryTheta}.");
        Require(NormEps >= 0 && double.IsFinite(NormEps), nameof(NormEps), $"must be a finite non-negative number, got {NormEps}.");
        base.Validate();
        int headDim = AttentionOptions.ResolvedHeadDim;
        Require(headDim % 2 == 0, nameof(Heads), $"({Heads}) gives heads of width {headDim}; rotary positions need an even width.");
    }
}
