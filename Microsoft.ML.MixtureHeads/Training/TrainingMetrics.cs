namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>When a <see cref="TrainingMetrics"/> report is made.</summary>
public enum TrainingPhase
{
    /// <summary>During an epoch, every <c>LogEverySteps</c> steps.</summary>
    Step,

    /// <summary>At the end of an epoch, with validation metrics when a validation set exists.</summary>
    EpochEnd,
}

/// <summary>A progress report from training, passed to <c>MetricsCallback</c>.</summary>
/// <param name="Phase">Step report or end-of-epoch report.</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Planned epochs.</param>
/// <param name="Step">Optimizer steps taken so far (all epochs).</param>
/// <param name="TotalSteps">Planned optimizer steps.</param>
/// <param name="Loss">Mean task loss (a classifier's cross-entropy) over the steps since the last report.</param>
/// <param name="BalanceLoss">Mean unweighted balance loss over the same steps (0 when no layer routes).</param>
/// <param name="Accuracy">Training accuracy over the same steps (on augmented inputs); null when the task has none.</param>
/// <param name="ValidationLoss">Mean task loss over the whole validation set (end of epoch only).</param>
/// <param name="ValidationAccuracy">Accuracy over the whole validation set (end of epoch only, when the task has one).</param>
/// <param name="LearningRate">The learning rate of the last step.</param>
/// <param name="HeadUsage">Per attention layer, per head: the share of tokens that used the head over the same steps.</param>
/// <param name="Elapsed">Wall time since training started.</param>
/// <param name="EstimatedRemaining">Estimated time to finish the planned steps.</param>
/// <param name="SamplesPerSecond">Training throughput over the same steps.</param>
public sealed record TrainingMetrics(
    TrainingPhase Phase,
    int Epoch,
    int Epochs,
    int Step,
    int TotalSteps,
    double Loss,
    double BalanceLoss,
    double? Accuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    IReadOnlyList<IReadOnlyList<double>> HeadUsage,
    TimeSpan Elapsed,
    TimeSpan EstimatedRemaining,
    double SamplesPerSecond)
{
    /// <summary>One line for logs: epoch, step, loss, accuracy, learning rate, ETA.</summary>
    public override string ToString()
    {
        string accuracy = Accuracy is { } a ? FormattableString.Invariant($" acc {a:P1}") : "";
        string validation = ValidationLoss is { } vl
            ? FormattableString.Invariant($" | val loss {vl:F4}") + (ValidationAccuracy is { } va ? FormattableString.Invariant($" acc {va:P2}") : "")
            : "";
        return FormattableString.Invariant(
            $"epoch {Epoch}/{Epochs} step {Step}/{TotalSteps} | loss {Loss:F4} bal {BalanceLoss:F3}{accuracy}{validation} | lr {LearningRate:E2} | {SamplesPerSecond:F0}/s | {Elapsed:hh\\:mm\\:ss} elapsed, ETA {EstimatedRemaining:hh\\:mm\\:ss}");
    }
}
