using System.Diagnostics;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>What one training step adds to a report: rows, targets, the loss summed over targets, the balance loss, correct targets (or null).</summary>
internal readonly record struct BatchSums(long Examples, long Targets, double LossSum, double Balance, long? Correct);

/// <summary>Running sums between two progress reports.</summary>
internal sealed class ReportWindow(int epochs)
{
    private long _examples, _targets, _correct;
    private bool _hasAccuracy = true;
    private int _steps;
    private double _loss, _balance;
    private double[][]? _headUsage;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public double LearningRate { get; set; }

    public void Add(BatchSums sums, float[][] headUsage)
    {
        _examples += sums.Examples;
        _targets += sums.Targets;
        _loss += sums.LossSum;
        _balance += sums.Balance;
        if (sums.Correct is { } correct) _correct += correct;
        else _hasAccuracy = false;
        _steps++;
        _headUsage ??= headUsage.Select(layer => new double[layer.Length]).ToArray();
        for (int layer = 0; layer < headUsage.Length; layer++)
            for (int h = 0; h < headUsage[layer].Length; h++) _headUsage[layer][h] += headUsage[layer][h];
    }

    public TrainingMetrics Close(TrainingPhase phase, int epoch, int step, int totalSteps, TimeSpan elapsed, TimeSpan remaining, ValidationResult? validation)
    {
        int steps = Math.Max(1, _steps);
        var usage = (_headUsage ?? []).Select(layer => (IReadOnlyList<double>)layer.Select(u => u / steps).ToArray()).ToList();
        double seconds = Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
        double? accuracy = _hasAccuracy ? (_targets == 0 ? 0 : (double)_correct / _targets) : null;
        var metrics = new TrainingMetrics(phase, epoch, epochs, step, totalSteps, _targets == 0 ? 0 : _loss / _targets, _balance / steps,
            accuracy, validation?.Loss, validation?.Accuracy, LearningRate, usage, elapsed, remaining, _examples / seconds);
        _examples = _targets = _correct = 0;
        _hasAccuracy = true;
        _steps = 0;
        _loss = _balance = 0;
        _headUsage = null;
        _clock.Restart();
        return metrics;
    }
}
