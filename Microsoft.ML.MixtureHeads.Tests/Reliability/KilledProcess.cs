using System.Collections.Concurrent;
using System.Diagnostics;

namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary>A built child app run directly (not under <c>dotnet run</c>, whose own process a kill would miss), whose
/// output lines are collected as they come, so a test can kill it with SIGKILL at a chosen moment.</summary>
internal sealed class KilledProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    /// <summary>Starts <c>dotnet <paramref name="dll"/> <paramref name="arguments"/></c>.</summary>
    public KilledProcess(string dll, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (string a in arguments) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _lines.Enqueue(e.Data);
            _lineArrived.Release();
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _lines.Enqueue("stderr: " + e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The lines written so far.</summary>
    public IReadOnlyList<string> Lines => _lines.ToArray();

    /// <summary>Waits (at most 2 minutes) for a line that starts with <paramref name="prefix"/> and returns it.</summary>
    public string WaitForLine(string prefix)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } line) return line;
            if (_process.HasExited && !_lineArrived.Wait(100)) break;
            _lineArrived.Wait(TimeSpan.FromMilliseconds(100));
        }
        throw new Xunit.Sdk.XunitException($"no line starting '{prefix}' (exited: {_process.HasExited}):\n{string.Join('\n', Lines)}");
    }

    /// <summary>SIGKILL (no handler runs, no buffer is flushed), then waits for the exit and for the output read so far.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
        _lineArrived.Dispose();
    }
}
