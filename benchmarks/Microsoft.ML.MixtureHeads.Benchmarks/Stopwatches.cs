using System.Diagnostics;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>Wall-clock timing with warm-up; reports the median, which shrugs off a stray slow run.</summary>
public static class Stopwatches
{
    /// <returns>Median milliseconds per call over <paramref name="iterations"/> timed calls.</returns>
    public static double MedianMilliseconds(Action action, int warmup = 2, int iterations = 7)
    {
        for (int i = 0; i < warmup; i++) action();
        var samples = new double[iterations];
        for (int i = 0; i < iterations; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(samples);
        return samples[iterations / 2];
    }
}
