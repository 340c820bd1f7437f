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

    /// <summary>
    /// Times several actions in interleaved rounds (one call of each per round), so that a busy spell on a shared
    /// machine lands on all of them alike rather than on whichever ran during it.
    /// </summary>
    /// <returns>Median milliseconds per call of each action, in order.</returns>
    public static double[] InterleavedMedianMilliseconds(IReadOnlyList<Action> actions, int warmup = 2, int rounds = 9)
    {
        foreach (var action in actions) for (int i = 0; i < warmup; i++) action();
        var samples = actions.Select(_ => new double[rounds]).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            for (int a = 0; a < actions.Count; a++)
            {
                long start = Stopwatch.GetTimestamp();
                actions[a]();
                samples[a][round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        return samples.Select(s => { Array.Sort(s); return s[rounds / 2]; }).ToArray();
    }
}
