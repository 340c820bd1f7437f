using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>SwiGLU and GeluMlp against the PyTorch reference: output, input gradient, every parameter gradient.</summary>
public sealed class FeedForwardParityTests
{
    private static readonly (long[] Shape, long Hidden)[] Shapes = [([5, 12], 20), ([2, 3, 8], 7), ([1, 1, 16], 64)];

    private static void CheckAgainstReference(string op, Func<long, long, nn.Module<Tensor, Tensor>> create, bool bitLinear, Tolerance tolerance)
    {
        using var scope = NewDisposeScope();
        var cases = Shapes.Select((s, seed) =>
        {
            manual_seed(40 + seed);
            var module = create(s.Shape[^1], s.Hidden);
            var inputs = LayerParity.Parameters(module);
            inputs["x"] = randn(s.Shape) * 2;
            inputs["grad_y"] = randn(s.Shape);
            return (Module: module, Inputs: inputs);
        }).ToList();
        var reference = PythonReference.Run(cases.Select(c =>
            new ReferenceCase(op, new Dictionary<string, object> { ["bitlinear"] = bitLinear }, c.Inputs)).ToList());
        for (int i = 0; i < cases.Count; i++)
        {
            var (module, inputs) = cases[i];
            var x = LayerParity.Leaf(inputs["x"]);
            var y = module.forward(x);
            (y * inputs["grad_y"]).sum().backward();
            var ours = LayerParity.ParameterGradients(module);
            ours["y"] = y;
            ours["grad/x"] = x.grad!;
            LayerParity.AssertMatches($"{op}#{i}", reference[i], ours, tolerance);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SwiGLU_matches_reference(bool bias) =>
        CheckAgainstReference("swiglu", (dim, hidden) => new SwiGLU(dim, hidden, bias: bias), bitLinear: false, Tolerance.Reduction);

    [Fact]
    public void SwiGLU_with_BitLinear_projections_matches_reference() =>
        CheckAgainstReference("swiglu", (dim, hidden) => new SwiGLU(dim, hidden, LinearKind.BitLinear), bitLinear: true, Tolerance.Layer);

    [Fact]
    public void GeluMlp_matches_reference() =>
        CheckAgainstReference("gelu_mlp", (dim, hidden) => new GeluMlp(dim, hidden), bitLinear: false, Tolerance.Reduction);

    [Fact]
    public void Parameter_names_follow_the_official_and_timm_layouts()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(["fc1.weight", "fc2.weight", "fc3.weight"], new SwiGLU(8, 16).state_dict().Keys.Order());
        Assert.Equal(["fc1.weight", "fc2.weight", "fc3.weight"], new SwiGLU(8, 16, LinearKind.BitLinear, bias: true).state_dict().Keys.Order());
        Assert.Equal(["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"], new GeluMlp(8, 32).state_dict().Keys.Order());
        Assert.Equal([16L, 8L], new SwiGLU(8, 16).fc3.Weight.shape);
    }
}
