using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// A network whose first layers are frozen (a pretrained trunk), so their output for an input never changes during
/// training: a trainer may compute it once per example and train on the cached features. The forward equals
/// <c>ForwardFromFrozenFeatures(FrozenFeatures(input))</c> in every mode.
/// </summary>
public interface IFrozenPrefixNetwork
{
    /// <summary>The shape of one example's frozen features, e.g. [C, h, w].</summary>
    long[] FrozenFeatureShape { get; }

    /// <summary>The frozen layers' output for a batch of inputs, without gradients.</summary>
    Tensor FrozenFeatures(Tensor input);

    /// <summary>The rest of the forward, from frozen features.</summary>
    NetworkOutput ForwardFromFrozenFeatures(Tensor features);
}
