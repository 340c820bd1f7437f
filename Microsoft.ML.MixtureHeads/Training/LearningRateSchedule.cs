namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Linear warmup from 0 to the peak, then cosine decay to <c>peak * minRatio</c>.</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, double MinRatio)
{
    /// <summary>The learning rate for the 0-based optimizer step <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        double floor = Peak * MinRatio;
        return floor + (Peak - floor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
