using Microsoft.ML.MixtureHeads.Onnx;

using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// What every network offers the training loop, the exporter and the registry, whatever its task: a kind, a config
/// that serialises to JSON (saved with the weights, so the network can be rebuilt), and an ONNX emission of its
/// eval-mode forward. The objective that trains it supplies the loss and the ONNX output heads.
/// </summary>
public interface IMixtureHeadsNetwork : IDisposable
{
    /// <summary>The model family, recorded in exported models (e.g. "vision_transformer").</summary>
    string Kind { get; }

    /// <summary>The architecture.</summary>
    ModelConfig Config { get; }

    /// <summary>The network as a TorchSharp module (parameters, modes, devices, state dict).</summary>
    nn.Module Module { get; }

    /// <summary>Declares the graph inputs (named <paramref name="inputNames"/>, in the order of the forward's inputs)
    /// and emits the forward in eval mode.</summary>
    /// <returns>The name of the value that <see cref="NetworkOutput.Output"/> holds in the forward.</returns>
    string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames);
}

/// <summary>A network whose forward reads <typeparamref name="TInput"/>.</summary>
public interface IMixtureHeadsNetwork<in TInput> : IMixtureHeadsNetwork
{
    /// <summary>The forward pass (as TorchSharp's <c>forward</c>).</summary>
    NetworkOutput forward(TInput input);

    /// <summary>The forward pass through the module's hooks (as PyTorch's <c>module(x)</c>).</summary>
    NetworkOutput call(TInput input);
}

/// <summary>A network whose forward reads <typeparamref name="TInput"/> and returns a <see cref="NetworkOutput"/>,
/// built from a <typeparamref name="TConfig"/>.</summary>
public abstract class MixtureHeadsNetwork<TInput, TConfig> : nn.Module<TInput, NetworkOutput>, IMixtureHeadsNetwork<TInput>
    where TConfig : ModelConfig
{
    /// <summary>Creates the module for <paramref name="config"/>, validated first.</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    protected MixtureHeadsNetwork(string name, TConfig config) : base(name)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
    }

    /// <inheritdoc />
    public abstract string Kind { get; }

    /// <summary>The architecture.</summary>
    public TConfig Config { get; }

    ModelConfig IMixtureHeadsNetwork.Config => Config;

    /// <summary>The architecture as JSON, as exported models record it.</summary>
    public string ConfigJson => ModelJson.Serialize(Config);

    /// <inheritdoc />
    public nn.Module Module => this;

    private bool _disposed;

    /// <summary>The forward pass through the module's hooks, as <c>module(x)</c>.</summary>
    /// <exception cref="ObjectDisposedException">The network was disposed (its weights are gone).</exception>
    public new NetworkOutput call(TInput input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return base.call(input);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public abstract string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames);

    /// <summary>The one input name of a single-input network, checked.</summary>
    protected static string SingleInput(string[] inputNames, string what) =>
        inputNames is [var name] && !string.IsNullOrEmpty(name)
            ? name
            : throw new ArgumentException($"{what} reads one input; got {inputNames.Length} names.", nameof(inputNames));
}
