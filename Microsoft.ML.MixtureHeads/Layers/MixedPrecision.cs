using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// bf16 mixed precision without autocast (TorchSharp 0.107 exposes none): inside a <see cref="Use"/> scope on this
/// thread, the products of linear layers, convolutions and stacked experts run in the scope's compute type on fp32
/// inputs and hand fp32 back, so parameters (the optimizer's master weights), norms, softmax, attention, routers,
/// losses and the optimizer stay fp32. Outside a scope (the default) every op is exactly the fp32 op it always was.
/// </summary>
/// <remarks>Casts are ordinary autograd ops: the backward pass runs its matrix products in the compute type too and
/// returns fp32 gradients to the fp32 parameters, whichever thread runs it. Attention stays fp32 because libtorch
/// 2.10's CPU <c>scaled_dot_product_attention</c> measured 2-3x slower in bf16 than in fp32 (docs/decisions.md).</remarks>
internal static class MixedPrecision
{
    [ThreadStatic] private static ScalarType? _compute;

    /// <summary>The compute type of matrix products on this thread, or null for plain fp32.</summary>
    public static ScalarType? Compute => _compute;

    /// <summary>Runs matrix products in <paramref name="compute"/> (null: fp32) on this thread until disposed.</summary>
    public static IDisposable Use(ScalarType? compute) => new Scope(compute);

    /// <summary>y = x Wᵀ + b, in the compute type when one is set and x is fp32.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        Lowers(x) is ScalarType c ? F.linear(x.to(c), weight.to(c), bias?.to(c)).to(x.dtype) : F.linear(x, weight, bias);

    /// <summary>A square-kernel 2-D convolution of x [B, C, H, W], in the compute type when one is set and x is fp32.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding) =>
        Lowers(x) is ScalarType c
            ? F.conv2d(x.to(c), weight.to(c), bias?.to(c), strides: [stride, stride], padding: [padding, padding]).to(x.dtype)
            : F.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);

    /// <summary>Batched a b, in the compute type when one is set and a is fp32.</summary>
    public static Tensor Bmm(Tensor a, Tensor b) => Lowers(a) is ScalarType c ? a.to(c).bmm(b.to(c)).to(a.dtype) : a.bmm(b);

    private static ScalarType? Lowers(Tensor x) => _compute is ScalarType c && x.dtype == ScalarType.Float32 ? c : null;

    private sealed class Scope : IDisposable
    {
        private readonly ScalarType? _previous;

        public Scope(ScalarType? compute)
        {
            _previous = _compute;
            _compute = compute;
        }

        public void Dispose() => _compute = _previous;
    }
}
