using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>A tensor-to-tensor module that emits its own ONNX: the type of every exportable child a layer holds.</summary>
public abstract class ExportableModule : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    /// <summary>Creates the module.</summary>
    protected ExportableModule(string name) : base(name) { }

    private bool _disposed;

    /// <summary>The forward pass through the module's hooks, as <c>module(x)</c>.</summary>
    /// <exception cref="ObjectDisposedException">The layer was disposed (its weights are gone).</exception>
    public new Tensor call(Tensor input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return base.call(input);
    }

    /// <inheritdoc />
    public abstract string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }
}

/// <summary>A linear map x W^T (+ b) whose weight is [out, in]: a dense <see cref="ExportableLinear"/> or a <see cref="BitLinear"/>.</summary>
public abstract class Projection : ExportableModule
{
    /// <summary>Creates the module.</summary>
    protected Projection(string name) : base(name) { }

    /// <summary>The [out, in] weight (for BitLinear the latent full-precision one).</summary>
    public abstract TorchSharp.Modules.Parameter Weight { get; }
}
