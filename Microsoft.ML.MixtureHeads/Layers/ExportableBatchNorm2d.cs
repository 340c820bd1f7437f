using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Batch normalisation of [B, C, H, W] over B, H and W, as <c>torch.nn.BatchNorm2d</c>: in training it normalises with
/// the batch's statistics and moves the running ones towards them (momentum 0.1, unbiased variance); in evaluation, and
/// in the exported ONNX graph (BatchNormalization), it uses the running statistics. The affine <c>weight</c> and
/// <c>bias</c> are parameters; <c>running_mean</c> and <c>running_var</c> are buffers, saved with the model.
/// </summary>
public class ExportableBatchNorm2d : ExportableModule
{
    /// <summary>Scale per channel [C].</summary>
    public readonly Parameter weight;

    /// <summary>Shift per channel [C].</summary>
    public readonly Parameter bias;

    /// <summary>Mean per channel [C].</summary>
    public readonly Tensor running_mean;

    /// <summary>Variance per channel [C].</summary>
    public readonly Tensor running_var;

    /// <summary>Added to the variance.</summary>
    public double Epsilon { get; }

    /// <summary>Share of the batch statistics that enters the running statistics at each training step.</summary>
    public const double Momentum = 0.1;

    /// <summary>An identity normalisation of <paramref name="channels"/> channels (weight 1, bias 0, mean 0, variance 1).</summary>
    public ExportableBatchNorm2d(long channels, double epsilon = 1e-5) : this(nameof(ExportableBatchNorm2d), channels, epsilon) { }

    /// <summary>For subclasses: the module name, then as the public constructor.</summary>
    protected ExportableBatchNorm2d(string name, long channels, double epsilon) : base(name)
    {
        if (channels < 1) throw new ArgumentException($"channels must be at least 1, got {channels}.", nameof(channels));
        Epsilon = epsilon;
        weight = new Parameter(ones(channels));
        bias = new Parameter(zeros(channels));
        running_mean = zeros(channels);
        running_var = ones(channels);
        RegisterComponents();
    }

    /// <summary>Whether a training forward normalises with the batch's statistics and moves the running ones.</summary>
    internal virtual bool MovesRunningStatistics => true;

    /// <summary>Whether this forward normalises with the batch's statistics (and updates the running ones).</summary>
    private bool UsesBatchStatistics => training && MovesRunningStatistics;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != weight.shape[0])
            throw new ArgumentException($"{GetName()} expects [B, {weight.shape[0]}, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        return nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training: UsesBatchStatistics, momentum: Momentum, eps: Epsilon);
    }

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        using var scope = graph.Scope(prefix);
        string Named(string name, Tensor value) => graph.Initializer(OnnxGraphBuilder.ParameterName(prefix, name), value);
        return graph.BatchNormalization(input, Named("weight", weight), Named("bias", bias),
            Named("running_mean", running_mean), Named("running_var", running_var), (float)Epsilon);
    }
}
