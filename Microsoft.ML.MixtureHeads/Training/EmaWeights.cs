using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// An exponential moving average of a network's parameters, kept in a second network of the same architecture:
/// ema = d ema + (1 - d) w after each step, with d = min(decay, (1 + n) / (10 + n)) at step n so that a short run is
/// not dominated by the random initial weights (DiT uses a constant 0.9999 over 400K+ steps; we train thousands).
/// </summary>
internal static class EmaWeights
{
    /// <summary>The decay at 1-based step <paramref name="step"/>.</summary>
    public static double DecayAt(int step, double decay) => Math.Min(decay, (1.0 + step) / (10.0 + step));

    /// <summary>Copies every parameter and buffer of <paramref name="source"/> into <paramref name="target"/>.</summary>
    public static void CopyInto(nn.Module source, nn.Module target)
    {
        using var noGrad = no_grad();
        var targets = target.state_dict();
        foreach (var (name, value) in source.state_dict()) targets[name].copy_(value);
    }

    /// <summary>One update of <paramref name="ema"/> towards <paramref name="weights"/> with decay <paramref name="decay"/>.</summary>
    public static void Update(nn.Module weights, nn.Module ema, double decay)
    {
        using var noGrad = no_grad();
        using Scalar keep = decay.ToScalar(), towards = (1 - decay).ToScalar();
        var averages = ema.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in weights.named_parameters()) averages[name].mul_(keep).add_(parameter, towards);
    }
}
