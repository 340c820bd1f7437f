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
    /// machine lands on all of them alike rather than on whichever ran during it. Also reports the process CPU time
    /// per call, which a busy machine inflates far less than wall-clock time when the work runs on one thread.
    /// </summary>
    /// <returns>Median wall-clock and process CPU milliseconds per call of each action, in order.</returns>
    public static (double Wall, double Cpu)[] InterleavedMedianMilliseconds(IReadOnlyList<Action> actions, int warmup = 2, int rounds = 9)
    {
        foreach (var action in actions) for (int i = 0; i < warmup; i++) action();
        var wall = actions.Select(_ => new double[rounds]).ToArray();
        var cpu = actions.Select(_ => new double[rounds]).ToArray();
        using var process = Process.GetCurrentProcess();
        for (int round = 0; round < rounds; round++)
        {
            for (int a = 0; a < actions.Count; a++)
            {
                process.Refresh();
                var cpuStart = process.TotalProcessorTime;
                long start = Stopwatch.GetTimestamp();
                actions[a]();
                wall[a][round] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                process.Refresh();
                cpu[a][round] = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
            }
        }
        return actions.Select((_, a) => (Median(wall[a]), Median(cpu[a]))).ToArray();
    }

    private static double Median(double[] samples)
    {
        Array.Sort(samples);
        return samples[samples.Length / 2];
    }
}
