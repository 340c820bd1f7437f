using Microsoft.ML.MixtureHeads.Platform;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>The number format of training's matrix products (weights, optimizer and the exported model stay fp32).</summary>
public enum TrainingPrecision
{
    /// <summary>bf16 where it measured faster at equal accuracy - a CPU with native bf16 dot products (AVX512-BF16 or AMX) - else fp32.</summary>
    Auto,

    /// <summary>Everything in fp32, exactly as without mixed precision.</summary>
    Float32,

    /// <summary>Matrix products of linear layers, convolutions, experts and attention up to 256 keys in bf16, with fp32 master
    /// weights; layer norms, softmax, routers and their gates, losses and the optimizer in fp32.</summary>
    BFloat16,
}

/// <summary>Turns a <see cref="TrainingPrecision"/> into the compute type of matrix products.</summary>
internal static class TrainingPrecisions
{
    /// <summary>The compute type for <paramref name="precision"/> on <paramref name="device"/>: bf16, or null for fp32.</summary>
    public static ScalarType? ComputeType(TrainingPrecision precision, Device device) => precision switch
    {
        TrainingPrecision.Float32 => null,
        TrainingPrecision.BFloat16 => ScalarType.BFloat16,
        TrainingPrecision.Auto => device.type == TorchSharp.DeviceType.CPU && BFloat16Support.FastOnCpu ? ScalarType.BFloat16 : null,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown TrainingPrecision."),
    };
}
