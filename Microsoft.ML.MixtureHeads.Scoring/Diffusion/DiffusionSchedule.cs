namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>
/// DDPM's linear noise schedule (Ho et al. 2020, as DiT): beta_t rises linearly from <see cref="BetaStart"/> to
/// <see cref="BetaEnd"/> over <see cref="Steps"/> steps, and x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps with
/// abar_t = prod_{s &lt;= t} (1 - beta_s). Computed in double, as DiT's NumPy float64 tables.
/// </summary>
public sealed record DiffusionSchedule
{
    /// <summary>DDPM's and DiT's schedule: 1,000 steps, beta from 1e-4 to 0.02.</summary>
    public static DiffusionSchedule Default { get; } = new(1000, 1e-4, 0.02);

    private readonly double[] _alphasCumprod;

    /// <summary>A linear schedule of <paramref name="steps"/> steps from <paramref name="betaStart"/> to <paramref name="betaEnd"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 2 steps, or betas outside (0, 1) or decreasing.</exception>
    public DiffusionSchedule(int steps, double betaStart, double betaEnd)
    {
        if (steps < 2) throw new ArgumentOutOfRangeException(nameof(steps), steps, "A schedule needs at least 2 steps.");
        if (!(betaStart > 0 && betaStart <= betaEnd && betaEnd < 1))
            throw new ArgumentOutOfRangeException(nameof(betaStart), $"Betas must satisfy 0 < start <= end < 1; got {betaStart} .. {betaEnd}.");
        (Steps, BetaStart, BetaEnd) = (steps, betaStart, betaEnd);
        _alphasCumprod = new double[steps];
        double product = 1;
        for (int t = 0; t < steps; t++)
        {
            double beta = betaStart + (betaEnd - betaStart) * t / (steps - 1);
            product *= 1 - beta;
            _alphasCumprod[t] = product;
        }
    }

    /// <summary>Diffusion steps T (timesteps 0 .. T - 1).</summary>
    public int Steps { get; }

    /// <summary>beta_0.</summary>
    public double BetaStart { get; }

    /// <summary>beta_{T-1}.</summary>
    public double BetaEnd { get; }

    /// <summary>abar_t = prod_{s &lt;= t} (1 - beta_s).</summary>
    public double AlphaCumprod(int t) => _alphasCumprod[t];

    /// <summary>
    /// <paramref name="count"/> timesteps from T - 1 down to 0, evenly spaced (rounded), as a sampler visits them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1 or above T.</exception>
    public int[] SamplingTimesteps(int count)
    {
        if (count < 1 || count > Steps)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"The sampling step count must be between 1 and the schedule's {Steps} steps.");
        if (count == 1) return [Steps - 1];
        return Enumerable.Range(0, count).Select(i => (int)Math.Round((count - 1 - i) * (Steps - 1) / (double)(count - 1))).ToArray();
    }

    /// <inheritdoc />
    public bool Equals(DiffusionSchedule? other) =>
        other is not null && Steps == other.Steps && BetaStart == other.BetaStart && BetaEnd == other.BetaEnd;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Steps, BetaStart, BetaEnd);
}
