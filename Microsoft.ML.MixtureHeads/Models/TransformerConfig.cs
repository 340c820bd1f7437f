using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// What every Mixture-of-Heads transformer shares: width, depth, heads and how they are routed, the feed-forward
/// network, and the classifier head. Head split: <see cref="SharedHeads"/> always-on heads plus the
/// top-<see cref="RoutedTopK"/> of the remaining routed heads; active heads = (SharedHeads + RoutedTopK) / Heads.
/// </summary>
public abstract record TransformerConfig
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

    /// <summary>Expert layer options when <see cref="FeedForward"/> is MultiHeadMoE (its Dim must equal <see cref="Dim"/>).</summary>
    public MultiHeadMoEOptions? MoE { get; init; }

    /// <summary>Full precision or BitNet b1.58 projections in attention and dense feed-forward layers. Default dense.</summary>
    public LinearKind Linear { get; init; } = LinearKind.Dense;

    /// <summary>Number of classes of the head. Trainers set it from the label's key type.</summary>
    public abstract int Classes { get; init; }

    /// <summary>Dropout on attention probabilities. Default 0.</summary>
    public double AttentionDropout { get; init; }

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
        AttentionDropout = AttentionDropout,
        Linear = Linear,
    };

    /// <summary>The feed-forward options of every block.</summary>
    public FeedForwardOptions FeedForwardOptions => new()
    {
        Kind = FeedForward,
        Hidden = (int)Math.Round(Dim * MlpRatio),
        MoE = MoE,
        Linear = Linear,
    };

    /// <summary>Checks the whole configuration, naming the first property at fault.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent.</exception>
    public virtual void Validate()
    {
        string type = GetType().Name;
        if (Depth < 1) throw new ArgumentException($"{type}.Depth must be at least 1, got {Depth}.", nameof(Depth));
        if (Classes < 2) throw new ArgumentException($"{type}.Classes must be at least 2, got {Classes}.", nameof(Classes));
        if (MlpRatio <= 0) throw new ArgumentException($"{type}.MlpRatio must be positive, got {MlpRatio}.", nameof(MlpRatio));
        if (FeedForward == FeedForwardKind.MultiHeadMoE && MoE is null)
            throw new ArgumentException($"{type}.MoE must be set when FeedForward is MultiHeadMoE.", nameof(MoE));
        AttentionOptions.Validate();
        MoE?.Validate();
    }
}
