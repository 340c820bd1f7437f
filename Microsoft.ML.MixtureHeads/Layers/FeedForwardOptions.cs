namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Which feed-forward network a transformer block uses.</summary>
public enum FeedForwardKind
{
    /// <summary>fc1 -> exact GELU -> fc2, with biases (ViT).</summary>
    GeluMlp,

    /// <summary>fc2(fc1(x) * silu(fc3(x))), no biases (LLaMA, the MH-MoE experts).</summary>
    SwiGLU,

    /// <summary>A <see cref="MultiHeadMoE"/> layer (plain SMoE when its Heads = 1).</summary>
    MultiHeadMoE,
}

/// <summary>The feed-forward half of a transformer block.</summary>
public sealed record FeedForwardOptions
{
    /// <summary>The network kind. Default <see cref="FeedForwardKind.GeluMlp"/>.</summary>
    public FeedForwardKind Kind { get; init; } = FeedForwardKind.GeluMlp;

    /// <summary>Hidden width of a dense GeluMlp / SwiGLU (ignored for MultiHeadMoE, whose experts set their own).</summary>
    public int Hidden { get; init; }

    /// <summary>The expert layer's options when <see cref="Kind"/> is <see cref="FeedForwardKind.MultiHeadMoE"/>.</summary>
    public MultiHeadMoEOptions? MoE { get; init; }

    /// <summary>Full precision or BitNet b1.58 projections in the dense networks. Default dense.</summary>
    public LinearKind Linear { get; init; } = LinearKind.Dense;
}
