namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Batch normalisation that always uses its running statistics, in training too (as detectron2's FrozenBatchNorm2d):
/// a pretrained trunk fine-tuned on small batches keeps the statistics it learned on ImageNet. The affine
/// <c>weight</c> and <c>bias</c> are parameters (trainable when the trunk is); <c>running_mean</c> and
/// <c>running_var</c> are buffers. [B, C, H, W] -> [B, C, H, W]; ONNX BatchNormalization.
/// </summary>
public sealed class FrozenBatchNorm2d : ExportableBatchNorm2d
{
    /// <summary>An identity normalisation of <paramref name="channels"/> channels (weight 1, bias 0, mean 0, variance 1).</summary>
    public FrozenBatchNorm2d(long channels, double epsilon = 1e-5) : base(nameof(FrozenBatchNorm2d), channels, epsilon) { }

    /// <inheritdoc />
    internal override bool MovesRunningStatistics => false;
}
