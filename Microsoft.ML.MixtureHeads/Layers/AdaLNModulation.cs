using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// DiT's <c>adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(c, chunks * dim))</c>: condition [B, c] ->
/// [B, chunks * dim], the shift/scale/gate vectors a conditioned block splits. Zero-initialised (adaLN-Zero), so a
/// fresh block starts as the identity. The linear keeps the Sequential's state-dict name <c>1</c>.
/// </summary>
public sealed class AdaLNModulation : ExportableModule
{
    private readonly ExportableLinear _linear;

    /// <summary>Creates the modulation from a condition of <paramref name="conditionDim"/> to <paramref name="chunks"/> vectors of <paramref name="dim"/>.</summary>
    public AdaLNModulation(int conditionDim, int dim, int chunks) : base(nameof(AdaLNModulation))
    {
        if (conditionDim < 1 || dim < 1 || chunks < 1)
            throw new ArgumentException($"AdaLNModulation needs positive sizes, got condition {conditionDim}, dim {dim}, chunks {chunks}.", nameof(conditionDim));
        _linear = new ExportableLinear(conditionDim, (long)chunks * dim);
        using (no_grad())
        {
            _linear.weight.zero_();
            _linear.bias!.zero_();
        }
        register_module("1", _linear);
    }

    /// <summary>The linear map (state-dict name <c>1</c>).</summary>
    public ExportableLinear Linear => _linear;

    /// <inheritdoc />
    public override Tensor forward(Tensor condition) => _linear.call(F.silu(condition));   // [B, chunks * dim]

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix) =>
        _linear.EmitOnnx(graph, graph.Silu(input), OnnxGraphBuilder.ParameterName(prefix, "1"));
}
