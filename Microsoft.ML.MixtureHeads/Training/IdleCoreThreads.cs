using Microsoft.ML.MixtureHeads.Platform;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// The thread count of a training loop whose options leave <c>Threads</c> unset: every <see cref="Interval"/> it counts
/// the cores other processes kept busy, and gives libtorch's intra-op pool the cores they leave (at least one, at most
/// the count it started with). Restores that count when disposed. With one busy process beside it on 2 cores, this
/// trained 1.5-1.7x as fast as two fixed threads waiting passively for each other (two runs, docs/decisions.md).
/// </summary>
internal sealed class IdleCoreThreads : IDisposable
{
    /// <summary>How often the load of other processes is read, and the thread count reconsidered.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    private readonly int _initial;
    private readonly Func<CpuTimes?> _read;
    private readonly Action<int> _setThreads;
    private readonly Func<TimeSpan> _now;
    private readonly IChannel? _channel;
    private CpuTimes _last;
    private TimeSpan _lastAt;

    internal IdleCoreThreads(int initial, CpuTimes first, Func<CpuTimes?> read, Action<int> setThreads, Func<TimeSpan> now, IChannel? channel)
    {
        (_initial, _last, _read, _setThreads, _now, _channel) = (initial, first, read, setThreads, now, channel);
        Threads = initial;
        _lastAt = now();
    }

    /// <summary>libtorch's intra-op threads as this policy last set them.</summary>
    public int Threads { get; private set; }

    /// <summary>The policy for libtorch in this process, or null where there is nothing to adapt (one thread, or no <c>/proc</c>).</summary>
    public static IdleCoreThreads? Start(IChannel? channel)
    {
        int initial = get_num_threads();
        if (initial < 2 || CpuTimes.Read() is not { } first) return null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        return new IdleCoreThreads(initial, first, CpuTimes.Read, set_num_threads, () => clock.Elapsed, channel);
    }

    /// <summary>The threads for a pool that started with <paramref name="initial"/> on a machine of <paramref name="cores"/> cores
    /// (the host's, in a container) of which other processes keep <paramref name="otherBusyCores"/> busy.</summary>
    internal static int ThreadsFor(double otherBusyCores, int cores, int initial) =>
        Math.Clamp(cores - (int)Math.Round(otherBusyCores, MidpointRounding.AwayFromZero), 1, initial);

    /// <summary>Reconsiders the thread count when <see cref="Interval"/> has passed since the last reading; call it between steps.</summary>
    public void Check()
    {
        var now = _now();
        if (now - _lastAt < Interval || _read() is not { } reading) return;
        double others = reading.OtherBusyCoresSince(_last);
        (_last, _lastAt) = (reading, now);
        int threads = ThreadsFor(others, reading.Cores, _initial);
        if (threads == Threads) return;
        _setThreads(threads);
        Threads = threads;
        _channel?.Info(MessageSensitivity.None, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Other processes kept {others:F1} of {reading.Cores} cores busy: training on {threads} thread(s) (set Threads to fix the count)."));
    }

    public void Dispose()
    {
        if (Threads != _initial) _setThreads(_initial);
    }
}
