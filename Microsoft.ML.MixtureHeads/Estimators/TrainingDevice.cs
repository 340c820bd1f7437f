using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>Where an estimator trains: its options' device read together with the <c>MLContext</c>'s GPU settings.</summary>
internal static class TrainingDevice
{
    /// <summary>The options' device; "auto" takes <c>MLContext.GpuDeviceId</c> when set (the CPU instead when that GPU is
    /// not there and <c>FallbackToCpu</c> is on), else as <see cref="Resolve(string?)"/>.</summary>
    public static Device Resolve(string device, ContextSettings context, IChannel channel)
    {
        if (device.Trim().ToLowerInvariant() != "auto" || context.GpuDeviceId is not int id) return Resolve(device);
        if (cuda.is_available() && id >= 0 && id < cuda.device_count()) return torch.device(DeviceType.CUDA, id);
        if (!context.FallbackToCpu)
            throw new ArgumentException($"MLContext.GpuDeviceId is {id}, but TorchSharp has no CUDA device {id} here (reference a TorchSharp-cuda package); " +
                "set MLContext.FallbackToCpu to train on the CPU instead.", nameof(device));
        channel.Warning(MessageSensitivity.None, $"MLContext.GpuDeviceId is {id}, but TorchSharp has no CUDA device {id} here: training on the CPU (FallbackToCpu).");
        return CPU;
    }

    /// <summary>A device name without an MLContext: "auto" (or null) is CUDA when TorchSharp has it, else the CPU; "cpu"; "cuda" or "cuda:N".</summary>
    /// <exception cref="ArgumentException">The name is none of those, or CUDA was asked for and TorchSharp has no CUDA backend here.</exception>
    public static Device Resolve(string? device)
    {
        switch ((device ?? "auto").Trim().ToLowerInvariant())
        {
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
            case "cpu":
                return CPU;
            case var name when name.StartsWith("cuda", StringComparison.Ordinal):
                return cuda.is_available()
                    ? torch.device(name)
                    : throw new ArgumentException($"Device '{device}' was asked for, but TorchSharp has no CUDA backend here (reference a TorchSharp-cuda package).", nameof(device));
            default:
                throw new ArgumentException($"Device '{device}' is not cpu, cuda, cuda:N or auto.", nameof(device));
        }
    }
}
