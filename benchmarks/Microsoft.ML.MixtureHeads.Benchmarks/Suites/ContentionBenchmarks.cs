using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Training images/s of moh_vit_tiny_75 (ours) and of a dense PyTorch ViT of its shape, each alone and next to one
/// busy-loop process: ours with its default threads (the cores other processes leave idle), and with fixed threads under
/// libgomp's default spin-waiting and under OMP_WAIT_POLICY=PASSIVE. Every configuration is
/// a child process (libgomp reads its wait policy when libtorch loads); alone and contended runs alternate. A second
/// table follows one run through a busy loop that starts and stops while it trains.
/// </summary>
public sealed class ContentionBenchmarks : IBenchmarkSuite
{
    public string Name => "contention";

    /// <summary>A configuration: who trains, with how many threads, and the environment libgomp reads (null: none set).</summary>
    private sealed record Variant(string Name, bool PyTorch, string Threads, string? WaitPolicy);

    private const string LibGompDefault = "GOMP_SPINCOUNT=300000";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        int cores = settings.Threads, steps = settings.Quick ? 4 : 15;
        var table = new BenchTable($"Training images/s alone and next to one busy-loop process ({steps} steps of batch 128; {Environment.ProcessorCount} cores)",
            "trainer", "threads", "OpenMP waiting", "alone", "with a busy loop", "contended / alone");
        string all = cores.ToString(CultureInfo.InvariantCulture);
        const string Ours = "ours (moh_vit_tiny_75, Auto precision: bf16 here)";
        Variant[] variants =
        [
            new(Ours, false, ContentionWorker.DefaultThreads, null),
            new(Ours, false, all, LibGompDefault),
            new(Ours, false, all, null),
            new(Ours, false, "1", null),
            new("PyTorch (dense ViT of that shape, fp32)", true, all, LibGompDefault),
            new("PyTorch (dense ViT of that shape, fp32)", true, all, "OMP_WAIT_POLICY=PASSIVE"),
        ];
        foreach (var variant in variants)
        {
            var (alone, note, threadsAlone) = Measure(settings, variant, steps, competitor: false);
            var (contended, _, threadsContended) = Measure(settings, variant, steps, competitor: true);
            string waiting = variant.WaitPolicy switch
            {
                LibGompDefault => $"libgomp's default: spin ({LibGompDefault})",
                null => $"nothing set: our start-up {note}",
                var set => set,
            };
            string threads = variant.Threads == ContentionWorker.DefaultThreads
                ? $"default: the idle cores ({threadsAlone} alone, {threadsContended} with the busy loop)"
                : variant.Threads;
            table.Add(variant.Name, threads, waiting, alone, contended, $"{contended / alone:F2}");
        }
        table.Notes.Add("The busy loop is `sh -c 'while :; do :; done'`: one CPU-bound process. With it, a fair share of this machine is " +
                        $"{Math.Max(1, Environment.ProcessorCount - 1)}/{Environment.ProcessorCount} of the cores.");
        table.Notes.Add($"Load average at the end: {PrecisionBenchmarks.LoadAverage()}. On a shared machine compare rows of this one run.");
        return [table, ComeAndGo(settings, all)];
    }

    /// <summary>
    /// Images/s per window of one run with the default threads and one with all cores fixed (passive waiting), while a
    /// busy loop starts some seconds after their warm-up and stops before they end.
    /// </summary>
    private static BenchTable ComeAndGo(BenchSettings settings, string all)
    {
        var schedule = settings.Quick ? new BusySchedule(12, 4, 8) : new BusySchedule(30, 8, 20);
        var following = Timeline(new Variant("default", false, ContentionWorker.DefaultThreads, null), schedule);
        var fixedThreads = Timeline(new Variant("fixed", false, all, null), schedule);
        var table = new BenchTable($"A busy loop that comes and goes: ours (moh_vit_tiny_75, batch 128) per {ContentionWorker.TimelineWindow.TotalSeconds:F0}-second window; " +
                                   $"the loop runs from {schedule.From} to {schedule.Until} s after the warm-up",
            "window end, s", "busy loop", "default threads: images/s", "default threads: threads", $"{all} fixed threads, passive: images/s");
        for (int i = 0; i < Math.Min(following.Count, fixedThreads.Count); i++)
        {
            var (end, imagesPerSecond, threads) = following[i];
            double middle = end - ContentionWorker.TimelineWindow.TotalSeconds / 2;
            table.Add($"{end:F1}", middle >= schedule.From && middle < schedule.Until ? "running" : "", imagesPerSecond, threads, fixedThreads[i].ImagesPerSecond);
        }
        table.Notes.Add($"The default re-reads the load every {IdleCoreThreads.Interval.TotalSeconds:F0} s between steps, so it answers within a window or two.");
        return table;
    }

    /// <summary>A timeline run's length, and when its busy loop starts and stops, in seconds after the warm-up.</summary>
    private sealed record BusySchedule(double Length, double From, double Until);

    private static List<(double End, double ImagesPerSecond, int Threads)> Timeline(Variant variant, BusySchedule schedule)
    {
        var start = WithWaitPolicy(WorkerStart(variant, ContentionWorker.TimelinePrefix + schedule.Length.ToString(CultureInfo.InvariantCulture)), variant.WaitPolicy);
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        using var stop = new CancellationTokenSource();
        Task? competitor = null;
        var windows = new List<(double, double, int)>();
        try
        {
            while (child.StandardOutput.ReadLine() is { } line)
            {
                if (line == "ready") competitor = BusyLoopBetween(schedule.From, schedule.Until, stop.Token);
                else if (line.TrimStart().StartsWith('{'))
                {
                    var window = JsonDocument.Parse(line).RootElement;
                    windows.Add((window.GetProperty("end_s").GetDouble(), window.GetProperty("images_per_second").GetDouble(), window.GetProperty("threads").GetInt32()));
                }
            }
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"{start.FileName} failed (exit {child.ExitCode}): {stderr.Result}");
            return windows;
        }
        finally
        {
            stop.Cancel();
            competitor?.Wait();
        }
    }

    /// <summary>A busy loop from <paramref name="from"/> to <paramref name="until"/> seconds from now, or until cancelled.</summary>
    private static Task BusyLoopBetween(double from, double until, CancellationToken cancel) => Task.Run(async () =>
    {
        try { await Task.Delay(TimeSpan.FromSeconds(from), cancel); }
        catch (OperationCanceledException) { return; }
        using var busy = StartBusyLoop();
        try { await Task.Delay(TimeSpan.FromSeconds(until - from), cancel); }
        catch (OperationCanceledException) { }
        finally { busy.Kill(); }
    });

    private static (double ImagesPerSecond, string? WaitPolicyNote, int? Threads) Measure(BenchSettings settings, Variant variant, int steps, bool competitor)
    {
        using var busy = competitor ? StartBusyLoop() : null;
        try
        {
            var start = WithWaitPolicy(variant.PyTorch ? PythonStart(settings, variant, steps) : WorkerStart(variant, steps.ToString(CultureInfo.InvariantCulture)),
                variant.WaitPolicy);
            using var child = Process.Start(start)!;
            var stderr = child.StandardError.ReadToEndAsync();
            string stdout = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"{start.FileName} failed (exit {child.ExitCode}): {stderr.Result}");
            string json = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.TrimStart().StartsWith('{'));
            var result = JsonDocument.Parse(json).RootElement;
            return (result.GetProperty("images_per_second").GetDouble(), result.TryGetProperty("wait_policy", out var note) ? note.GetString() : null,
                result.TryGetProperty("threads", out var threads) ? threads.GetInt32() : null);
        }
        finally
        {
            if (busy is { HasExited: false }) busy.Kill();
        }
    }

    private static Process StartBusyLoop() => Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })!;

    /// <summary>The child's output redirected, and libgomp's settings removed but for <paramref name="waitPolicy"/> ("NAME=value").</summary>
    private static ProcessStartInfo WithWaitPolicy(ProcessStartInfo start, string? waitPolicy)
    {
        start.RedirectStandardOutput = start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.Environment.Remove("OMP_WAIT_POLICY");
        start.Environment.Remove("GOMP_SPINCOUNT");
        if (waitPolicy?.Split('=') is [var name, var value]) start.Environment[name] = value;
        return start;
    }

    private static ProcessStartInfo WorkerStart(Variant variant, string steps)
    {
        string self = Environment.ProcessPath!;
        var start = Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? new ProcessStartInfo(self, [typeof(ContentionWorker).Assembly.Location])
            : new ProcessStartInfo(self);
        foreach (var a in new[] { ContentionWorker.Command, variant.Threads, steps })
            start.ArgumentList.Add(a);
        return start;
    }

    private static ProcessStartInfo PythonStart(BenchSettings settings, Variant variant, int steps) =>
        new("/usr/bin/python3", ["bench_contention.py", "--threads", variant.Threads, "--steps", steps.ToString(CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = Path.Combine(settings.RepositoryRoot, "benchmarks", "reference"),
        };
}
