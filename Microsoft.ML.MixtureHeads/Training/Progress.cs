using Microsoft.ML.Runtime;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>When step reports are due (every <c>LogEverySteps</c> steps, and at least every <c>ReportInterval</c>),
/// the time left, and where reports go (the MLContext log and the metrics callback).</summary>
internal sealed class Progress(LoopSettings settings, int totalSteps, Func<TimeSpan> elapsed)
{
    private TimeSpan _lastReport;

    /// <summary>
    /// Whether a step report is due after <paramref name="step"/> steps: at every <c>LogEverySteps</c>-th step, and
    /// when <c>ReportInterval</c> has passed since the last report - unless, at the pace so far, the next
    /// <c>LogEverySteps</c> report comes within half an interval, which would make two reports of nearly one moment.
    /// </summary>
    public bool StepReportDue(int step)
    {
        var options = settings.Options;
        int every = Math.Max(1, options.LogEverySteps);
        if (step % every == 0) return true;
        var now = elapsed();
        if (now - _lastReport < options.ReportInterval) return false;
        var untilCountReport = now / step * (every - step % every);
        return step + (every - step % every) > totalSteps || untilCountReport >= options.ReportInterval / 2;
    }

    /// <summary>Time to the planned end after <paramref name="step"/> steps, at the pace so far, and never past the time budget.</summary>
    public TimeSpan Remaining(int step)
    {
        var now = elapsed();
        var remaining = step == 0 ? TimeSpan.Zero : now * ((double)(totalSteps - step) / step);
        if (settings.Options.MaxTrainingTime is { } budget) remaining = TimeSpan.FromTicks(Math.Min(remaining.Ticks, Math.Max(0, (budget - now).Ticks)));
        return remaining;
    }

    public void Report(TrainingMetrics metrics)
    {
        _lastReport = elapsed();
        settings.Channel?.Info(MessageSensitivity.None, metrics.ToString());
        settings.Options.MetricsCallback?.Invoke(metrics);
    }
}
