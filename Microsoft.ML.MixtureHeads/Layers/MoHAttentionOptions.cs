namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The shape and behaviour of one <see cref="MoHAttention"/> layer. Heads 0..<see cref="SharedHeads"/>-1 are shared
/// (used by every token); the remaining E = <see cref="Heads"/> - <see cref="SharedHeads"/> are routed, and each
/// token picks <see cref="RoutedTopK"/> of them. <see cref="Validate"/> runs when a layer is built.
/// </summary>
public sealed record MoHAttentionOptions
{
    /// <summary>Model width C: the size of each token's input and output vector.</summary>
    public required int Dim { get; init; }

    /// <summary>Number of attention heads H.</summary>
    public required int Heads { get; init; }

    /// <summary>Shared heads h_s (indices 0..h_s-1). Default 0. Must be 0 with <see cref="HeadRouting.Dense"/>.</summary>
    public int SharedHeads { get; init; }

    /// <summary>
    /// Top-k among the routed heads (the official code's <c>routed_head</c>; not the size of the routed pool). Default 0.
    /// With <see cref="HeadRouting.Learned"/>, 0 is the dense-weighted case and needs <see cref="SharedHeads"/> == <see cref="Heads"/>.
    /// </summary>
    public int RoutedTopK { get; init; }

    /// <summary>Per-head width D. Default null: <see cref="Dim"/> / <see cref="Heads"/>. May differ from C/H, as in DiT.</summary>
    public int? HeadDim { get; init; }

    /// <summary>How heads are chosen and weighted. Default <see cref="HeadRouting.Dense"/> (plain multi-head attention).</summary>
    public HeadRouting Routing { get; init; } = HeadRouting.Dense;

    /// <summary>
    /// With <see cref="HeadRouting.Learned"/>, shared and routed heads: whether a third router <c>wg_0</c> weighs the
    /// two groups per token (the paper's two-stage routing, alpha x 2). Default true. False is the paper's Table 5
    /// ablation: the shared gates (averaging 1) and routed gates (averaging 1) are used as they are.
    /// </summary>
    public bool TwoStageRouting { get; init; } = true;

    /// <summary>Whether <c>qkv</c> has a bias. Default true. No effect with <see cref="LinearKind.BitLinear"/>, which has none.</summary>
    public bool QkvBias { get; init; } = true;

    /// <summary>Whether <c>proj</c> has a bias (never gated). Default true. No effect with <see cref="LinearKind.BitLinear"/>.</summary>
    public bool ProjBias { get; init; } = true;

    /// <summary>Dropout probability on the attention probabilities, in training only. Default 0.</summary>
    public double AttentionDropout { get; init; }

    /// <summary>Dropout probability on the output of <c>proj</c>, in training only. Default 0.</summary>
    public double ProjDropout { get; init; }

    /// <summary>Whether a token attends only to itself and earlier tokens. Default false.</summary>
    public bool Causal { get; init; }

    /// <summary>The linear layer used for <c>qkv</c> and <c>proj</c>; routers are always dense. Default <see cref="LinearKind.Dense"/>.</summary>
    public LinearKind Linear { get; init; } = LinearKind.Dense;

    /// <summary>The per-head width in use: <see cref="HeadDim"/>, or C/H when it is null.</summary>
    public int ResolvedHeadDim => HeadDim ?? Dim / Heads;

    /// <summary>The size E of the routed pool: <see cref="Heads"/> - <see cref="SharedHeads"/>.</summary>
    public int RoutedHeads => Heads - SharedHeads;

    /// <summary>Whether some heads are routed per token, so gates can be 0 and a balance loss exists.</summary>
    public bool HasRoutedHeads => Routing != HeadRouting.Dense && RoutedTopK > 0;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the option when the combination is not a valid layer.</summary>
    public void Validate()
    {
        Require(Dim >= 1, nameof(Dim), $"must be at least 1, got {Dim}.");
        Require(Heads >= 1, nameof(Heads), $"must be at least 1, got {Heads}.");
        if (HeadDim is int headDim) Require(headDim >= 1, nameof(HeadDim), $"must be at least 1 when set, got {headDim}.");
        else Require(Dim % Heads == 0, nameof(HeadDim), $"is null, so Dim ({Dim}) must be divisible by Heads ({Heads}); set HeadDim explicitly otherwise.");
        Require(AttentionDropout is >= 0 and < 1, nameof(AttentionDropout), $"must be in [0, 1), got {AttentionDropout}.");
        Require(ProjDropout is >= 0 and < 1, nameof(ProjDropout), $"must be in [0, 1), got {ProjDropout}.");
        Require(Enum.IsDefined(Linear), nameof(Linear), $"is not a known LinearKind: {Linear}.");
        Require(SharedHeads >= 0, nameof(SharedHeads), $"must not be negative, got {SharedHeads}.");
        Require(RoutedTopK >= 0, nameof(RoutedTopK), $"must not be negative, got {RoutedTopK}.");
        switch (Routing)
        {
            case HeadRouting.Dense:
                Require(SharedHeads == 0 && RoutedTopK == 0, nameof(Routing),
                    $"is Dense (every head on), so SharedHeads and RoutedTopK must be 0; got SharedHeads {SharedHeads}, RoutedTopK {RoutedTopK}.");
                break;
            case HeadRouting.Learned:
                Require(SharedHeads <= Heads, nameof(SharedHeads), $"({SharedHeads}) must not exceed Heads ({Heads}).");
                Require(RoutedTopK <= RoutedHeads, nameof(RoutedTopK),
                    $"({RoutedTopK}) must not exceed the routed heads E = Heads - SharedHeads = {RoutedHeads}.");
                Require(RoutedTopK > 0 || SharedHeads == Heads, nameof(RoutedTopK),
                    $"is 0 (the dense-weighted case), which needs SharedHeads == Heads; got SharedHeads {SharedHeads}, Heads {Heads}.");
                break;
            case HeadRouting.ParameterFree:
                Require(RoutedHeads >= 2, nameof(SharedHeads),
                    $"({SharedHeads}) leaves {RoutedHeads} routed heads of {Heads}; ParameterFree routing needs at least 2 (it divides by their std).");
                Require(RoutedTopK >= 1 && RoutedTopK <= RoutedHeads, nameof(RoutedTopK),
                    $"({RoutedTopK}) must be between 1 and the routed heads E = {RoutedHeads} for ParameterFree routing.");
                break;
            default:
                Require(false, nameof(Routing), $"is not a known HeadRouting: {Routing}.");
                break;
        }
    }

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition) throw new ArgumentException($"MoHAttentionOptions.{option} {problem}", option);
    }
}
