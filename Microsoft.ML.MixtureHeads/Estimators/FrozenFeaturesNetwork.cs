using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// A network with a frozen prefix seen from cached features: the forward starts after the frozen layers, while the
/// module (parameters, modes, state) and the ONNX emission stay the whole network's, so what is trained and
/// exported is the network itself.
/// </summary>
internal sealed class FrozenFeaturesNetwork(IMixtureHeadsNetwork<Tensor> network, IFrozenPrefixNetwork prefix) : IMixtureHeadsNetwork<Tensor>
{
    public string Kind => network.Kind;

    public ModelConfig Config => network.Config;

    public nn.Module Module => network.Module;

    public NetworkOutput forward(Tensor features) => prefix.ForwardFromFrozenFeatures(features);

    public NetworkOutput call(Tensor features) => prefix.ForwardFromFrozenFeatures(features);

    public string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames) => network.EmitOnnx(graph, inputNames);

    /// <summary>The network is the trainer's; it disposes it.</summary>
    public void Dispose() { }

    /// <summary>
    /// The training (and validation) data as the frozen prefix's output, computed once on <paramref name="device"/>, or
    /// null when it cannot be cached (streamed data, or features beyond the memory budget).
    /// </summary>
    /// <param name="plan">The plan that read the data.</param>
    /// <param name="prefix">The network's frozen layers.</param>
    /// <param name="options">Batch size and memory budget.</param>
    /// <param name="seed">The shuffle seed.</param>
    /// <param name="device">Where the frozen layers run.</param>
    /// <param name="done">Told the row count of each batch computed.</param>
    public static ClassifierData? Cache(ClassifierPlan plan, IFrozenPrefixNetwork prefix, ClassifierOptionsBase options, int seed, Device device, Action<long> done) =>
        plan.WithCachedFeatures(rows =>
        {
            using var scope = NewDisposeScope();
            var features = prefix.FrozenFeatures(rows.ToTensor(device)).cpu().contiguous().data<float>().ToArray();
            done(rows.Rows);
            return features;
        }, prefix.FrozenFeatureShape, options, seed);
}
