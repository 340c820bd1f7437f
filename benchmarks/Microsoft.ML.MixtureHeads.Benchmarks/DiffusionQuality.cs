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

    private static (Tensor Mean, Tensor Covariance) Moments(Tensor features)
    {
        var x = features.to_type(ScalarType.Float64);
        var mean = x.mean([0]);
        var centred = x - mean;
        return (mean, centred.T.matmul(centred) / (x.shape[0] - 1));
    }
}
