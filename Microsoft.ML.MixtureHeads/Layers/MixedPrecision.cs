using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// bf16 mixed precision without autocast (TorchSharp 0.107 exposes none): inside a <see cref="Use"/> scope on this
/// thread, the products of linear layers, convolutions, stacked experts and attention (over at most
/// <see cref="BFloat16AttentionMaxKeys"/> keys) run in the scope's compute type and hand back their input's type.
/// Parameters (the optimizer's master weights), layer norms, softmax, routers and their gates, losses and the
/// optimizer stay fp32; a layer may keep its inner activations in the compute type between its products
/// (<see cref="Lower"/>: the conv stem, the ViT MLP, attention from qkv into its products), as autocast would. Outside a scope
/// (the default) every op is exactly the fp32 op it always was.
/// </summary>
/// <remarks>Casts are ordinary autograd ops: the backward pass runs its matrix products in the compute type too and
/// returns fp32 gradients to the fp32 parameters, whichever thread runs it. Attention is written out (two products and
/// a softmax) because libtorch 2.10's CPU <c>scaled_dot_product_attention</c> measured 2-3x slower in bf16 than in
/// fp32; the written-out form beats fp32 sdpa up to 256 keys and loses by 10x at 1024 (docs/decisions.md).</remarks>
internal static class MixedPrecision
{
    [ThreadStatic] private static ScalarType? _compute;

    /// <summary>The compute type of matrix products on this thread, or null for plain fp32.</summary>
    public static ScalarType? Compute => _compute;

    /// <summary>Runs matrix products in <paramref name="compute"/> (null: fp32) on this thread until disposed.</summary>
    public static IDisposable Use(ScalarType? compute) => new Scope(compute);

    /// <summary>y = x Wᵀ + b, in the compute type when one is set and x is fp32 or in it.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        Lowers(x) is ScalarType c ? F.linear(x.to(c), weight.to(c), bias?.to(c)).to(x.dtype) : F.linear(x, weight, bias);

    /// <summary>A square-kernel 2-D convolution of x [B, C, H, W], in the compute type when one is set and x is fp32 or in it.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding) =>
        Lowers(x) is ScalarType c
            ? F.conv2d(x.to(c), weight.to(c), bias?.to(c), strides: [stride, stride], padding: [padding, padding]).to(x.dtype)
            : F.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);

    /// <summary>Batched a b, in the compute type when one is set and a is fp32 or in it.</summary>
    public static Tensor Bmm(Tensor a, Tensor b) => Lowers(a) is ScalarType c ? a.to(c).bmm(b.to(c)).to(a.dtype) : a.bmm(b);

    /// <summary>The most keys for which <see cref="Attention"/> runs in the compute type; longer attention stays fp32 sdpa.</summary>
    public const long BFloat16AttentionMaxKeys = 256;

    /// <summary>
    /// softmax(q kᵀ / √d, masked) v with attention dropout, as <c>scaled_dot_product_attention</c>: q [B, H, N, D],
    /// k and v [B, H, M, D], a boolean mask broadcastable to [B, H, N, M] (true = may attend), <paramref name="causal"/>
    /// for a top-left lower-triangular mask; returns q's type. With a compute type set and at most
    /// <see cref="BFloat16AttentionMaxKeys"/> keys both products run in the compute type and the softmax in fp32, as
    /// autocast runs them; over more keys, fp32 sdpa.
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? mask, double dropout, bool causal)
    {
        long queries = q.shape[^2], keys = k.shape[^2];
        if (Lowers(q) is not ScalarType c) return F.scaled_dot_product_attention(q, k, v, mask, dropout, is_casual: causal);
        if (keys > BFloat16AttentionMaxKeys)
            return F.scaled_dot_product_attention(q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32), mask, dropout, is_casual: causal).to(q.dtype);
        var scores = (q.to(c) * Scalars.Of(1.0 / Math.Sqrt(q.shape[^1]))).matmul(k.to(c).transpose(-2, -1)).to(ScalarType.Float32);   // [B, H, N, M]
        // The lowest finite value rather than -inf: a row with every key masked averages its values instead of writing NaN.
        if (causal) scores = scores.masked_fill(ones(queries, keys, ScalarType.Bool, q.device).triu(1), Scalars.Of(float.MinValue));
        if (mask is not null) scores = scores.masked_fill(mask.logical_not(), Scalars.Of(float.MinValue));
        var weights = F.dropout(scores.softmax(-1), dropout, training: dropout > 0);                             // [B, H, N, M], fp32
        return weights.to(c).matmul(v.to(c)).to(q.dtype);                                                         // [B, H, N, D]
    }

    /// <summary>
    /// x in the compute type when a scope sets one, x is fp32 and every one of <paramref name="consumers"/> takes it
    /// (BitLinear quantises in fp32, routers keep fp32); otherwise x itself. Lets activations stay in the compute type
    /// between products instead of a cast back and forth around each one.
    /// </summary>
    public static Tensor Lower(Tensor x, params Projection[] consumers) =>
        Lowers(x) is ScalarType c && consumers.All(p => p is ExportableLinear { KeepsFloat32: false }) ? x.to(c) : x;

    /// <summary>The compute type for a product of x: set, and x fp32 or already in it (the product then returns x's type).</summary>
    private static ScalarType? Lowers(Tensor x) => _compute is ScalarType c && (x.dtype == ScalarType.Float32 || x.dtype == c) ? c : null;

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
