using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>Sample-quality figures for generated images, computed in a trained classifier's feature space.</summary>
public static class DiffusionQuality
{
    /// <summary>
    /// The Frechet distance between Gaussians fitted to two feature sets [N, D]: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)),
    /// as FID (in double; the trace of the root is taken from the eigenvalues of S_a^(1/2) S_b S_a^(1/2)).
    /// </summary>
    public static double FrechetDistance(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var (muA, covA) = Moments(a);
        var (muB, covB) = Moments(b);
        var (valuesA, vectorsA) = linalg.eigh(covA);
        var rootA = vectorsA.matmul(diag(valuesA.clamp_min(0).sqrt())).matmul(vectorsA.T);
        var middle = rootA.matmul(covB).matmul(rootA);
        var traceRoot = linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum();
        var distance = (muA - muB).pow(2).sum() + covA.trace() + covB.trace() - 2 * traceRoot;
        return distance.item<double>();
    }

    /// <summary>
    /// The mean squared error of the clean image a denoiser implies at timestep <paramref name="t"/>: real images x_0
    /// [N, C, H, W] in [-1, 1] are noised to x_t (noise from <paramref name="seed"/>), and x_0 is recovered from the
    /// prediction as the sampler does (clipped to [-1, 1]). Predicting one constant at the pixels' mean would score the
    /// variance of all pixels; errors in epsilon are magnified by sqrt(1 - abar_t) / sqrt(abar_t) here.
    /// </summary>
    public static double CleanImageError(MoHDiT model, DiffusionSchedule schedule, Tensor x0, Tensor labels, int t, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        double abar = schedule.AlphaCumprod(t);
        var noise = randn(x0.shape, generator: new Generator((ulong)seed));
        var xt = x0 * Math.Sqrt(abar) + noise * Math.Sqrt(1 - abar);
        var prediction = model.forward(new DiTInput(xt, full(x0.shape[0], (float)t), labels)).Output;
        var estimate = model.Config.Prediction == PredictionTarget.Velocity
            ? xt * Math.Sqrt(abar) - prediction * Math.Sqrt(1 - abar)                      // x_0 = sqrt(abar) x_t - sqrt(1 - abar) v
            : (xt - prediction * Math.Sqrt(1 - abar)) / Math.Sqrt(abar);                  // x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)
        return (estimate.clamp(-1, 1) - x0).pow(2).mean().item<float>();
    }

    private static (Tensor Mean, Tensor Covariance) Moments(Tensor features)
    {
        var x = features.to_type(ScalarType.Float64);
        var mean = x.mean([0]);
        var centred = x - mean;
        return (mean, centred.T.matmul(centred) / (x.shape[0] - 1));
    }
}
