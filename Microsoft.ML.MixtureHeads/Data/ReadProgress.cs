using System.Diagnostics;
using System.Globalization;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// Says how far the first read of a data set has come, every <c>interval</c>, until <see cref="Stop"/>: reading and
/// decoding a large set takes minutes before the first training step, and a user should see it move.
/// </summary>
internal sealed class ReadProgress(Action<string>? report, string dataSet, long count, TimeSpan interval)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _stopped;

    /// <summary>The rows of <paramref name="rows"/>, reporting the count so far while not stopped.</summary>
    public IEnumerable<T> Track<T>(IEnumerable<T> rows)
    {
        long read = 0;
        var last = _clock.Elapsed;
        foreach (var row in rows)
        {
            read++;
            if (!_stopped && report is not null && _clock.Elapsed - last >= interval)
            {
                last = _clock.Elapsed;
                report(string.Create(CultureInfo.InvariantCulture, $"Read {read:N0} of {count:N0} {dataSet} rows ({_clock.Elapsed:mm\\:ss} elapsed)..."));
            }
            yield return row;
        }
    }

    /// <summary>Later passes (streaming epochs) read silently.</summary>
    public void Stop() => _stopped = true;
}
