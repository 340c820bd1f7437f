using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Scalars that stay reachable for the life of the process, and tensor arithmetic that passes only such Scalars.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns every number given to a tensor op (and the implicit <c>alpha = 1</c> of every <c>a + b</c>)
/// into a temporary <see cref="Scalar"/> whose handle it passes to native code without keeping the object alive: a
/// garbage collection during the call may finalize it while libtorch still reads it (docs/platforms.md). Cached
/// Scalars are never collected, so our forward passes use these instead: <c>x * Scalars.Of(0.5)</c> and
/// <c>a.Plus(b)</c> rather than <c>x * 0.5</c> and <c>a + b</c>. Only constants belong here (the cache keeps each
/// value); a value that changes every step is created with <c>using</c> where it is used.
/// </remarks>
internal static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Reals = new();
    private static readonly ConcurrentDictionary<long, Scalar> Integers = new();

    /// <summary>The floating-point Scalar <paramref name="value"/> (keeps a float tensor float).</summary>
    public static Scalar Of(double value) => Reals.GetOrAdd(value, v => v.ToScalar());

    /// <summary>The integer Scalar <paramref name="value"/> (keeps an integer tensor integer).</summary>
    public static Scalar Of(long value) => Integers.GetOrAdd(value, v => v.ToScalar());

    private static readonly Scalar One = Of(1L);

    /// <summary><c>a + b</c> (broadcasting), with a Scalar <c>alpha</c> that outlives the call.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + value</c>, with Scalars that outlive the call.</summary>
    public static Tensor Plus(this Tensor a, double value) => a.add(Of(value), One);

    /// <summary><c>a + value</c> keeping an integer tensor integer, with Scalars that outlive the call.</summary>
    public static Tensor Plus(this Tensor a, long value) => a.add(Of(value), One);
}
