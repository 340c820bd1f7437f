using System.Diagnostics;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>When step reports are due (every <c>LogEverySteps</c> steps, and at least every <c>ReportInterval</c>),
/// the time left, and where reports go (the MLContext log and the metrics callback).</summary>
internal sealed class Progress(LoopSettings settings, int totalSteps, Stopwatch clock)
{
    private TimeSpan _lastReport;

    /// <summary>Whether a step report is due after <paramref name="step"/> steps.</summary>
    public bool StepReportDue(int step)
    {
        var options = settings.Options;
        return step % Math.Max(1, options.LogEverySteps) == 0 || clock.Elapsed - _lastReport >= options.ReportInterval;
    }

    /// <summary>Time to the planned end after <paramref name="step"/> steps, at the pace so far, and never past the time budget.</summary>
    public TimeSpan Remaining(int step)
    {
        var elapsed = clock.Elapsed;
        var remaining = step == 0 ? TimeSpan.Zero : elapsed * ((double)(totalSteps - step) / step);
        if (settings.Options.MaxTrainingTime is { } budget) remaining = TimeSpan.FromTicks(Math.Min(remaining.Ticks, Math.Max(0, (budget - elapsed).Ticks)));
        return remaining;
    }

    public void Report(TrainingMetrics metrics)
    {
        _lastReport = clock.Elapsed;
        settings.Channel?.Info(MessageSensitivity.None, metrics.ToString());
        settings.Options.MetricsCallback?.Invoke(metrics);
    }
}
