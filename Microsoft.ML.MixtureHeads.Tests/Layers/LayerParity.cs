using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>Moves a module's parameters to the reference (by state-dict name) and compares what comes back.</summary>
internal static class LayerParity
{
    /// <summary>Detached copies of every parameter, keyed by its state-dict name.</summary>
    public static Dictionary<string, Tensor> Parameters(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    /// <summary>Each parameter's gradient as "grad/&lt;name&gt;" (zeros where it got none).</summary>
    public static Dictionary<string, Tensor> ParameterGradients(nn.Module module) =>
        module.named_parameters().ToDictionary(p => $"grad/{p.name}", p => p.parameter.grad?.clone() ?? zeros_like(p.parameter));

    /// <summary>Asserts every tensor of <paramref name="ours"/> matches the reference's tensor of the same name.</summary>
    public static void AssertMatches(string what, IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> ours, Tolerance tolerance)
    {
        Assert.NotEmpty(ours);
        foreach (var (name, value) in ours)
        {
            Assert.True(reference.ContainsKey(name), $"{what}: the reference returned no '{name}'");
            ParityAssert.Close($"{what} {name}", reference[name], value, tolerance);
        }
    }

    /// <summary>A leaf copy that requires grad.</summary>
    public static Tensor Leaf(Tensor t) => t.detach().clone().requires_grad_(true);
}
