using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>How close two fp32 results must be: |a - e| &lt;= Absolute + Relative * |e|, elementwise.</summary>
public sealed record Tolerance(string Name, double Relative, double Absolute)
{
    /// <summary>Same op, same order of arithmetic: fp32 rounding only.</summary>
    public static readonly Tolerance Fp32 = new("fp32", 1e-5, 1e-6);

    /// <summary>Sums whose order differs between libtorch versions or kernels (matmul, attention, norms).</summary>
    public static readonly Tolerance Reduction = new("fp32-reduction", 1e-4, 1e-5);

    /// <summary>Deep compositions (whole layers) whose gradients pass through several reductions.</summary>
    public static readonly Tolerance Layer = new("fp32-layer", 2e-4, 2e-5);
}

/// <summary>Thrown when two tensors differ beyond a tolerance; the message is the mismatch report.</summary>
public sealed class ParityMismatchException(string report) : Exception(report);

public static class ParityAssert
{
    /// <summary>Asserts <paramref name="actual"/> matches <paramref name="expected"/> in shape and values.</summary>
    public static void Close(string what, Tensor expected, Tensor actual, Tolerance tolerance)
    {
        if (!expected.shape.SequenceEqual(actual.shape))
            throw new ParityMismatchException($"{what}: shape [{string.Join(",", actual.shape)}], reference [{string.Join(",", expected.shape)}]");
        double[] e = ToDoubles(expected), a = ToDoubles(actual);
        var report = Compare(what, expected.shape, e, a, tolerance);
        if (report != null) throw new ParityMismatchException(report);
    }

    /// <summary>Asserts integer tensors (indices) are identical.</summary>
    public static void Equal(string what, Tensor expected, Tensor actual) =>
        Close(what, expected.to_type(ScalarType.Float64), actual.to_type(ScalarType.Float64), new Tolerance("exact", 0, 0));

    /// <returns>Null when every element is within tolerance, else a readable report.</returns>
    public static string? Compare(string what, long[] shape, double[] expected, double[] actual, Tolerance tolerance)
    {
        int bad = 0, worst = -1;
        double worstExcess = double.NegativeInfinity, maxAbs = 0, maxRel = 0;
        var firstBad = new List<int>();
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]);
            // An infinite or NaN reference must be met exactly: a relative tolerance of infinity would pass anything.
            bool ok = double.IsFinite(expected[i])
                ? diff <= tolerance.Absolute + tolerance.Relative * Math.Abs(expected[i])
                : actual[i].Equals(expected[i]);
            maxAbs = Math.Max(maxAbs, double.IsNaN(diff) ? double.PositiveInfinity : diff);
            if (expected[i] != 0) maxRel = Math.Max(maxRel, diff / Math.Abs(expected[i]));
            if (ok) continue;
            bad++;
            if (firstBad.Count < 5) firstBad.Add(i);
            double excess = diff - tolerance.Absolute - tolerance.Relative * Math.Abs(expected[i]);
            if (double.IsNaN(excess) || excess > worstExcess) { worstExcess = double.IsNaN(excess) ? double.PositiveInfinity : excess; worst = i; }
        }
        if (bad == 0) return null;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{what}: {bad} of {expected.Length} elements differ beyond {tolerance.Name} (rel {tolerance.Relative:g}, abs {tolerance.Absolute:g}).");
        text.AppendLine(CultureInfo.InvariantCulture, $"  max abs error {maxAbs:g6}, max rel error {maxRel:g6}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  worst at [{Index(shape, worst)}]: ours {actual[worst]:g9}, reference {expected[worst]:g9}");
        foreach (int i in firstBad)
            text.AppendLine(CultureInfo.InvariantCulture, $"  at [{Index(shape, i)}]: ours {actual[i]:g9}, reference {expected[i]:g9}");
        return text.ToString();
    }

    private static string Index(long[] shape, int flat)
    {
        var index = new long[shape.Length];
        long rest = flat;
        for (int d = shape.Length - 1; d >= 0; d--) { index[d] = rest % shape[d]; rest /= shape[d]; }
        return string.Join(",", index);
    }

    private static double[] ToDoubles(Tensor t)
    {
        using var flat = t.detach().cpu().to_type(ScalarType.Float64).contiguous().reshape(-1);
        return flat.data<double>().ToArray();
    }
}
