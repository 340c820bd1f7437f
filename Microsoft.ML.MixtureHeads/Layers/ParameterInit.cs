using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Weight initialisers missing from, or broken in, TorchSharp.</summary>
public static class ParameterInit
{
    /// <summary>
    /// Fills <paramref name="tensor"/> in place with N(<paramref name="mean"/>, <paramref name="std"/>²) truncated to
    /// [<paramref name="a"/>, <paramref name="b"/>] (absolute bounds, as in PyTorch and timm), by redrawing values that
    /// fall outside. Use this instead of <c>nn.init.trunc_normal_</c>: in TorchSharp 0.107.0 that fills every element
    /// with <paramref name="std"/> (measured).
    /// </summary>
    /// <exception cref="ArgumentException">The bounds are empty or hold less than 1% of the distribution's mass.</exception>
    public static Tensor TruncatedNormal_(Tensor tensor, double std, double mean = 0.0, double a = -2.0, double b = 2.0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!(std > 0)) throw new ArgumentException($"std must be positive, got {std}.", nameof(std));
        if (!(a < b) || b < mean - 2.6 * std || a > mean + 2.6 * std)
            throw new ArgumentException($"[{a}, {b}] keeps too little of N({mean}, {std}^2) for redrawing to be quick.", nameof(a));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using Scalar lower = a.ToScalar(), upper = b.ToScalar();
        tensor.normal_(mean, std);
        for (var outside = tensor.lt(lower).logical_or_(tensor.gt(upper)); outside.any().item<bool>(); outside = tensor.lt(lower).logical_or_(tensor.gt(upper)))
            tensor.copy_(where(outside, empty_like(tensor).normal_(mean, std), tensor));
        return tensor;
    }
}
