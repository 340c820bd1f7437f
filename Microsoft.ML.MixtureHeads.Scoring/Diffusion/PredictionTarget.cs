namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>What a denoiser is trained to output for x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.</summary>
public enum PredictionTarget
{
    /// <summary>The noise eps (DDPM, DiT). At large t, x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) magnifies any error
    /// in eps by up to 1 / sqrt(abar_T) = 158 on the default schedule, so short trainings sample noise.</summary>
    Epsilon,

    /// <summary>The velocity v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 (Salimans and Ho 2022): close to eps at small t and
    /// to -x_0 at large t, so no error is magnified; eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v.</summary>
    Velocity,
}
