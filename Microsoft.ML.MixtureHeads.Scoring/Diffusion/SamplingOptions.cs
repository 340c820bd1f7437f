namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>How a sampler walks back from noise to an image.</summary>
public enum SamplingMethod
{
    /// <summary>DDIM with eta = 0 (Song et al. 2021): deterministic given the starting noise; good images in few steps.</summary>
    Ddim,

    /// <summary>Ancestral DDPM sampling on the respaced schedule, adding fresh noise with the posterior variance each step.</summary>
    Ddpm,
}

/// <summary>What <c>Generate</c> does besides the class and the count.</summary>
public sealed record SamplingOptions
{
    /// <summary>Denoising steps, 1 .. the schedule's steps (1,000). Default 50.</summary>
    public int Steps { get; init; } = 50;

    /// <summary>
    /// Classifier-free guidance scale s: eps = eps(null) + s (eps(class) - eps(null)). 1 uses the conditional
    /// prediction alone (one forward per step); above 1 sharpens the class. Default 2.
    /// </summary>
    public double GuidanceScale { get; init; } = 2;

    /// <summary>Seed of the starting noise (and of DDPM's per-step noise). Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>DDIM (eta 0) or DDPM. Default DDIM.</summary>
    public SamplingMethod Method { get; init; } = SamplingMethod.Ddim;

    /// <summary>Images per forward pass (twice that many rows with guidance). Default 64.</summary>
    public int BatchSize { get; init; } = 64;
}
