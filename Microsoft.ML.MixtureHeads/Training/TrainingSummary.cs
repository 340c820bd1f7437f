namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>How a training run ended.</summary>
/// <param name="Epochs">End-of-epoch reports, in order.</param>
/// <param name="BestEpoch">The 1-based epoch whose weights the model holds when early stopping restored them; else the last epoch run.</param>
/// <param name="StoppedEarly">True when early stopping ended training before the planned epochs.</param>
/// <param name="Cancelled">True when the cancellation token ended training; the model holds the weights trained so far.</param>
/// <param name="TimeBudgetReached">True when <c>MaxTrainingTime</c> ended training.</param>
public sealed record TrainingSummary(
    IReadOnlyList<TrainingMetrics> Epochs,
    int BestEpoch,
    bool StoppedEarly,
    bool Cancelled,
    bool TimeBudgetReached);
