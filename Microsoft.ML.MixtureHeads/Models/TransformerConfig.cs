using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// What every Mixture-of-Heads transformer shares: width, depth, heads and how they are routed, and the feed-forward
/// network. Head split: <see cref="SharedHeads"/> always-on heads plus the
/// top-<see cref="RoutedTopK"/> of the remaining routed heads; active heads = (SharedHeads + RoutedTopK) / Heads.
/// </summary>
public abstract record TransformerConfig : ModelConfig
{
    /// <summary>Token width. Default 128.</summary>
    public int Dim { get; init; } = 128;

    /// <summary>Number of transformer blocks. Default 4.</summary>
    public int Depth { get; init; } = 4;

    /// <summary>Attention heads per block. Default 8.</summary>
    public int Heads { get; init; } = 8;

    /// <summary>Dense (every head always on), Learned (MoH) or ParameterFree (converted) routing. Default Learned.</summary>
    public HeadRouting Routing { get; init; } = HeadRouting.Learned;

    /// <summary>Always-on heads (ignored for Dense routing). Default 2.</summary>
    public int SharedHeads { get; init; } = 2;

    /// <summary>Routed heads each token picks (ignored for Dense routing). Default 4.</summary>
    public int RoutedTopK { get; init; } = 4;

    /// <summary>Dense feed-forward hidden width as a multiple of <see cref="Dim"/>. Default 2.</summary>
    public double MlpRatio { get; init; } = 2;

    /// <summary>Feed-forward kind of every block.</summary>
    public abstract FeedForwardKind FeedForward { get; init; }

    /// <summary>Expert layer options when <see cref="FeedForward"/> is MultiHeadMoE. Their Dim is the block's <see cref="Dim"/>:
    /// leave it 0 (or set it equal).</summary>
    public MultiHeadMoEOptions? MoE { get; init; }

    /// <summary>Full precision or BitNet b1.58 projections in attention and dense feed-forward layers. Default dense.</summary>
    public LinearKind Linear { get; init; } = LinearKind.Dense;

    /// <summary>Whether a router weighs shared against routed heads per token (MoH's two-stage routing). Default true;
    /// false is the paper's ablation (<see cref="MoHAttentionOptions.TwoStageRouting"/>).</summary>
    public bool TwoStageRouting { get; init; } = true;

    /// <summary>Dropout on attention probabilities. Default 0.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>The registered tiny models' MH-MoE layer: h = 2, top-2 of 8 SwiGLU experts of 96 (Dim from the block).</summary>
    internal static MultiHeadMoEOptions TinyMultiHeadMoE { get; } = new() { Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96 };

    /// <summary>Share of heads a token uses, in percent (the number in a registry name).</summary>
    public int ActiveHeadPercent => Routing == HeadRouting.Dense ? 100 : (int)Math.Round(100.0 * (SharedHeads + RoutedTopK) / Heads);

    /// <summary>The attention options of every block.</summary>
    public MoHAttentionOptions AttentionOptions => new()
    {
        Dim = Dim,
        Heads = Heads,
        Routing = Routing,
        SharedHeads = Routing == HeadRouting.Dense ? 0 : SharedHeads,
        RoutedTopK = Routing == HeadRouting.Dense ? 0 : RoutedTopK,
        TwoStageRouting = TwoStageRouting,
        AttentionDropout = AttentionDropout,
        Linear = Linear,
    };

    /// <summary>The feed-forward options of every block.</summary>
    public FeedForwardOptions FeedForwardOptions => new()
    {
        Kind = FeedForward,
        Hidden = (int)Math.Round(Dim * MlpRatio),
        MoE = MoE is null ? null : MoE with { Dim = Dim },
        Linear = Linear,
    };

    /// <summary>Checks the whole configuration, naming the first property at fault.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent.</exception>
    public override void Validate()
    {
        string type = GetType().Name;
        if (Depth < 1) throw new ArgumentException($"{type}.Depth must be at least 1, got {Depth}.", nameof(Depth));
        if (MlpRatio <= 0) throw new ArgumentException($"{type}.MlpRatio must be positive, got {MlpRatio}.", nameof(MlpRatio));
        if (FeedForward == FeedForwardKind.MultiHeadMoE && MoE is null)
            throw new ArgumentException($"{type}.MoE must be set when FeedForward is MultiHeadMoE.", nameof(MoE));
        if (MoE is { Dim: not 0 } moe && moe.Dim != Dim)
            throw new ArgumentException($"{type}.MoE.Dim ({moe.Dim}) must be 0 (the block width) or equal {type}.Dim ({Dim}).", nameof(MoE));
        AttentionOptions.Validate();
        FeedForwardOptions.MoE?.Validate();
    }

    /// <summary>Throws naming <paramref name="property"/> of this config unless <paramref name="condition"/> holds.</summary>
    protected void Require(bool condition, string property, string problem)
    {
        if (!condition) throw new ArgumentException($"{GetType().Name}.{property} {problem}", property);
    }
}

/// <summary>Variations of a transformer config.</summary>
public static class TransformerConfigExtensions
{
    /// <summary>The same architecture with plain multi-head attention: every head on for every token.</summary>
    public static TConfig Dense<TConfig>(this TConfig config) where TConfig : TransformerConfig =>
        (TConfig)(config with { Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0 });
}
