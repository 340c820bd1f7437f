namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Configuration of a <see cref="MultiHeadMoE"/> layer (specs/mhmoe.md section 2 and its pinned decisions).
/// <c>Heads = 1</c> without projections is a plain sparse MoE; <see cref="MoEPresets"/> holds the 2411.16205
/// FLOP-parity configurations.
/// </summary>
public sealed record MultiHeadMoEOptions
{
    /// <summary>Token dimension d (input and output features). Required for a layer on its own; inside a model's
    /// config leave it 0: the block width is used.</summary>
    public long Dim { get; init; }

    /// <summary>Number of heads h: each token is split into h sub-tokens of d/h features. Default 1 (plain SMoE).</summary>
    public long Heads { get; init; } = 1;

    /// <summary>Number of experts E. Required.</summary>
    public long Experts { get; init; }

    /// <summary>How many experts each sub-token reaches (k). Default 1.</summary>
    public long TopK { get; init; } = 1;

    /// <summary>Hidden features of each SwiGLU expert. Required.</summary>
    public long ExpertHidden { get; init; }

    /// <summary>
    /// Whether the d x d head projection (<c>multi_heads</c>) and merge projection (<c>out_proj</c>) are used.
    /// Null (the default) means <c>Heads &gt; 1</c>; set false for plain or fine-grained SMoE, or for the
    /// "without head and merge" ablation.
    /// </summary>
    public bool? HeadProjections { get; init; }

    /// <summary>
    /// Null (the default): dropless, every sub-token reaches its k experts. A value f: each expert takes at most
    /// <c>C = ceil(f * k * ceil(S / E))</c> of the S sub-tokens' assignments (the official capacity at f = 1), slots
    /// filled in the official order (all first choices, in token order, before any second choice, ...); assignments
    /// beyond C are dropped and contribute zero.
    /// </summary>
    public double? CapacityFactor { get; init; }

    /// <summary>
    /// Whether the k selected probabilities are renormalised to sum to one. Default false: the official HEAD code
    /// combines with the raw softmax probabilities.
    /// </summary>
    public bool RenormalizeTopK { get; init; }

    /// <summary>Kind of the expert projections; head, merge and router always stay full precision. Default dense.</summary>
    public LinearKind ExpertLinear { get; init; } = LinearKind.Dense;

    /// <summary>Features of each sub-token, d / h.</summary>
    public long SubTokenDim => Dim / Heads;

    /// <summary>Whether the head and merge projections are in use (see <see cref="HeadProjections"/>).</summary>
    public bool UsesHeadProjections => HeadProjections ?? Heads > 1;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be at least 1, got {Dim}.", nameof(Dim));
        if (Heads < 1) throw new ArgumentException($"Heads must be at least 1, got {Heads}.", nameof(Heads));
        if (Dim % Heads != 0) throw new ArgumentException($"Dim ({Dim}) must be divisible by Heads ({Heads}).", nameof(Heads));
        if (Experts < 1) throw new ArgumentException($"Experts must be at least 1, got {Experts}.", nameof(Experts));
        if (TopK < 1 || TopK > Experts)
            throw new ArgumentException($"TopK must be between 1 and Experts ({Experts}), got {TopK}.", nameof(TopK));
        if (ExpertHidden < 1) throw new ArgumentException($"ExpertHidden must be at least 1, got {ExpertHidden}.", nameof(ExpertHidden));
        if (CapacityFactor is { } factor && !(factor > 0 && double.IsFinite(factor)))
            throw new ArgumentException($"CapacityFactor must be a positive finite number or null (dropless), got {factor}.", nameof(CapacityFactor));
        if (!Enum.IsDefined(ExpertLinear))
            throw new ArgumentException($"ExpertLinear {ExpertLinear} is not a known LinearKind.", nameof(ExpertLinear));
    }
}
