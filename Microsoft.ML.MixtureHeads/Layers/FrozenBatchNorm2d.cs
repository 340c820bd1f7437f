using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Batch normalisation that always uses its running statistics, in training too (as detectron2's FrozenBatchNorm2d):
/// a pretrained trunk fine-tuned on small batches keeps the statistics it learned on ImageNet. The affine
/// <c>weight</c> and <c>bias</c> are parameters (trainable when the trunk is); <c>running_mean</c> and
/// <c>running_var</c> are buffers. [B, C, H, W] -> [B, C, H, W]; ONNX BatchNormalization.
/// </summary>
public sealed class FrozenBatchNorm2d : ExportableModule
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

    /// <summary>An identity normalisation of <paramref name="channels"/> channels (weight 1, bias 0, mean 0, variance 1).</summary>
    public FrozenBatchNorm2d(long channels, double epsilon = 1e-5) : base(nameof(FrozenBatchNorm2d))
    {
        if (channels < 1) throw new ArgumentException($"channels must be at least 1, got {channels}.", nameof(channels));
        Epsilon = epsilon;
        weight = new Parameter(ones(channels));
        bias = new Parameter(zeros(channels));
        running_mean = zeros(channels);
        running_var = ones(channels);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != weight.shape[0])
            throw new ArgumentException($"FrozenBatchNorm2d expects [B, {weight.shape[0]}, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        return nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training: false, eps: Epsilon);
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
