using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>What the loop needs besides the objective and the data; built by a trainer from its options.</summary>
/// <param name="Options">The optimisation recipe, validation, early stopping, progress and cancellation.</param>
/// <param name="Seed">Seeds dropout, augmentation and noise (weights are initialised, and batches shuffled, before).</param>
/// <param name="Device">Where the network trains.</param>
/// <param name="Channel">The MLContext log, or null.</param>
/// <param name="Cancelled">Also stops training, like the options' token, once it returns true (<c>mlContext.CancelExecution()</c>), or null.</param>
internal sealed record LoopSettings(TrainerOptionsBase Options, int Seed, Device Device, IChannel? Channel = null, Func<bool>? Cancelled = null)
{
    /// <summary>Whether training was asked to stop.</summary>
    public bool CancellationRequested => Options.CancellationToken.IsCancellationRequested || (Cancelled?.Invoke() ?? false);
}
