namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The FLOPs- and parameter-parity configurations of 2411.16205 (specs/mhmoe.md section 3) for SwiGLU experts without
/// biases, all derived from one SMoE baseline with <c>experts</c> experts of hidden <c>dMoe</c>, top-1.
/// At d = 768, d_moe = 2048: SMoE 8 x 2048 top-1, fine-grained 16 x 1024 top-2, MH-MoE h = 2 40 x 768 top-2,
/// h = 3 96 x 512 top-3, every one 2 x 4,718,592 FLOPs per token.
/// </summary>
public static class MoEPresets
{
    /// <summary>Experts of the SMoE baseline in the paper.</summary>
    public const long PaperExperts = 8;

    /// <summary>Plain sparse MoE: <paramref name="experts"/> SwiGLU experts of hidden <paramref name="dMoe"/>, top-1, no head projections.</summary>
    public static MultiHeadMoEOptions SparseMoE(long dim, long dMoe, long experts = PaperExperts) => Checked(new MultiHeadMoEOptions
    {
        Dim = dim, Heads = 1, Experts = experts, TopK = 1, ExpertHidden = dMoe, HeadProjections = false,
    });

    /// <summary>Fine-grained SMoE: twice the experts at half the hidden, top-2 (same FLOPs and parameters as <see cref="SparseMoE"/>).</summary>
    public static MultiHeadMoEOptions FineGrained(long dim, long dMoe, long experts = PaperExperts)
    {
        if (dMoe % 2 != 0) throw new ArgumentException($"dMoe must be even to halve it, got {dMoe}.", nameof(dMoe));
        return Checked(new MultiHeadMoEOptions
        {
            Dim = dim, Heads = 1, Experts = 2 * experts, TopK = 2, ExpertHidden = dMoe / 2, HeadProjections = false,
        });
    }

    /// <summary>
    /// MH-MoE with <paramref name="heads"/> heads at FLOPs parity with <see cref="SparseMoE"/>: top-k = h and expert
    /// hidden (3 d_moe - 2d) / (3h), so that 2d^2 (head and merge) + 3 k d hidden = 3 d d_moe multiply-accumulates per token.
    /// Experts follow the parameter parity of Eq. 9, 3 d d_moe E = 2d^2 + 3 (d/h) hidden E', rounded to the nearest
    /// multiple of the baseline's expert count: that rule gives the paper's 40 (h = 2, exact 41.3) and 96 (h = 3, exact 93).
    /// </summary>
    public static MultiHeadMoEOptions MultiHead(long dim, long dMoe, long heads, long experts = PaperExperts)
    {
        if (heads < 2) throw new ArgumentException($"heads must be at least 2 for MH-MoE (use SparseMoE for 1), got {heads}.", nameof(heads));
        if (dim < 1 || dim % heads != 0) throw new ArgumentException($"dim ({dim}) must be positive and divisible by heads ({heads}).", nameof(dim));
        if (experts < 1) throw new ArgumentException($"experts must be at least 1, got {experts}.", nameof(experts));
        long numerator = 3 * dMoe - 2 * dim;
        if (numerator <= 0 || numerator % (3 * heads) != 0)
            throw new ArgumentException($"(3 dMoe - 2 dim) = {numerator} must be positive and divisible by 3 * heads = {3 * heads} for exact FLOPs parity.", nameof(dMoe));
        long hidden = numerator / (3 * heads);
        double parityExperts = (3.0 * dim * dMoe * experts - 2.0 * dim * dim) / (3.0 * (dim / heads) * hidden);
        long rounded = Math.Max(1, (long)Math.Round(parityExperts / experts, MidpointRounding.AwayFromZero)) * experts;
        return Checked(new MultiHeadMoEOptions
        {
            Dim = dim, Heads = heads, Experts = rounded, TopK = heads, ExpertHidden = hidden, HeadProjections = true,
        });
    }

    /// <summary>
    /// FLOPs per token (two per multiply-accumulate) of the head and merge projections and the k experts each
    /// sub-token reaches; the router and the elementwise work are left out, as in the paper's parity.
    /// </summary>
    public static long FlopsPerToken(MultiHeadMoEOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        long projections = options.UsesHeadProjections ? 2 * options.Dim * options.Dim : 0;
        return 2 * (projections + 3 * options.TopK * options.Dim * options.ExpertHidden);
    }

    /// <summary>FLOPs per token of a dense <see cref="SwiGLU"/> FFN with <paramref name="hidden"/> features (three d x hidden matmuls).</summary>
    public static long DenseFlopsPerToken(long dim, long hidden) => 2 * 3 * dim * hidden;

    private static MultiHeadMoEOptions Checked(MultiHeadMoEOptions options)
    {
        options.Validate();
        return options;
    }
}
