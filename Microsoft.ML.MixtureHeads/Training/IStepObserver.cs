namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// An objective that keeps state of its own across optimizer steps (a denoiser's EMA weights): the loop calls
/// <see cref="AfterStep"/> after every optimizer step, outside the step's gradient tape.
/// </summary>
internal interface IStepObserver
{
    /// <summary>Called once the optimizer has updated the weights; <paramref name="step"/> counts steps from 1.</summary>
    void AfterStep(int step);
}
