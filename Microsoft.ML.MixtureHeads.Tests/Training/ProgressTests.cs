using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>When step reports come: every LogEverySteps steps, at least every ReportInterval, never two at one moment.</summary>
public sealed class ProgressTests
{
    private sealed class Options : TrainerOptionsBase;

    /// <summary>The steps after which a report is made, for steps of <paramref name="secondsPerStep"/> each.</summary>
    private static List<int> ReportedSteps(int every, double intervalSeconds, double secondsPerStep, int totalSteps)
    {
        var options = new Options { LogEverySteps = every, ReportInterval = TimeSpan.FromSeconds(intervalSeconds) };
        var now = TimeSpan.Zero;
        var progress = new Progress(new LoopSettings(options, 1, CPU), totalSteps, () => now);
        var reported = new List<int>();
        for (int step = 1; step <= totalSteps; step++)
        {
            now = TimeSpan.FromSeconds(step * secondsPerStep);
            if (!progress.StepReportDue(step)) continue;
            reported.Add(step);
            progress.Report(new TrainingMetrics(TrainingPhase.Step, 1, 1, step, totalSteps, 0, 0, null, null, null, 0, [], now, TimeSpan.Zero, 0));
        }
        return reported;
    }

    [Fact]
    public void Every_LogEverySteps_step_reports_and_time_fills_the_gaps_without_near_duplicates()
    {
        const double secondsPerStep = 0.6, interval = 10;
        var steps = ReportedSteps(every: 50, interval, secondsPerStep, totalSteps: 313);

        Assert.Equal([50, 100, 150, 200, 250, 300], steps.Where(s => s % 50 == 0));
        var gaps = steps.Prepend(0).Zip(steps, (a, b) => (b - a) * secondsPerStep).ToList();
        Assert.All(gaps, gap => Assert.InRange(gap, interval / 2, interval + secondsPerStep));
        Assert.Contains(steps, s => s % 50 != 0);   // time-based reports happen between the step-count ones
    }

    [Fact]
    public void Fast_steps_report_by_count_only()
    {
        Assert.Equal([10, 20, 30], ReportedSteps(every: 10, intervalSeconds: 10, secondsPerStep: 0.01, totalSteps: 30));
    }
}
