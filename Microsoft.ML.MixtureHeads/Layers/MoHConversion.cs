using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Turns trained dense attention into MoH attention, as in the MoH-LLaMA3 conversion (specs/moh.md section 7).</summary>
public static class MoHConversion
{
    /// <summary>
    /// A new <see cref="HeadRouting.ParameterFree"/> layer holding copies of every weight of <paramref name="dense"/>:
    /// heads 0..<paramref name="sharedHeads"/>-1 always on, each token picking <paramref name="topK"/> of the rest by
    /// query norm. No new parameters are introduced, so with <paramref name="topK"/> = E the result equals the dense layer.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dense"/> is not a Dense-routing layer, or the head split is invalid.</exception>
    public static MoHAttention FromDense(MoHAttention dense, int sharedHeads, int topK)
    {
        ArgumentNullException.ThrowIfNull(dense);
        if (dense.Options.Routing != HeadRouting.Dense)
            throw new ArgumentException($"FromDense needs a layer with Routing = Dense; this one has {dense.Options.Routing}.", nameof(dense));
        var converted = new MoHAttention(dense.Options with
        {
            Routing = HeadRouting.ParameterFree,
            SharedHeads = sharedHeads,
            RoutedTopK = topK,
        });
        using (no_grad())
        {
            var source = dense.state_dict();
            foreach (var (name, target) in converted.state_dict()) target.copy_(source[name]);
        }
        converted.train(dense.training);
        converted.SkipInactiveHeads = dense.SkipInactiveHeads;
        return converted;
    }
}
