using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>The hybrid models' ResNet trunk: PyTorch parity of the forward and every gradient with non-trivial
/// normalisation statistics, and bad input.</summary>
public sealed class ResNetTrunkTests
{
    [Fact]
    public void Matches_the_PyTorch_reference_forward_and_gradients()
    {
        // One thread, as the reference runs (libtorch 2.10's oneDNN bug with narrow convolutions: docs/decisions.md).
        using var threads = Microsoft.ML.MixtureHeads.Training.LibTorchThreads.Use(1);
        using var scope = NewDisposeScope();
        manual_seed(12);
        var trunk = new ResNetTrunk(2);
        using (no_grad())
            foreach (var (name, buffer) in trunk.named_buffers())
                buffer.copy_(name.EndsWith("running_var") ? rand(buffer.shape) + 0.5 : randn(buffer.shape) * 0.1);
        using (no_grad())
            foreach (var (name, parameter) in trunk.named_parameters().Where(p => p.name.Contains(".bn")))
                parameter.copy_(name.EndsWith("weight") ? rand(parameter.shape) + 0.5 : randn(parameter.shape) * 0.1);
        var x = LayerParity.Leaf(randn(2, 3, 32, 32));
        var y = trunk.forward(x);
        var upstream = randn(y.shape);
        (y * upstream).sum().backward();

        var inputs = new Dictionary<string, Tensor>(LayerParity.Parameters(trunk)) { ["x"] = x.detach(), ["grad_y"] = upstream };
        foreach (var (name, buffer) in trunk.named_buffers()) inputs[name] = buffer.clone();
        var blocks = Enumerable.Range(0, trunk.Stages).Select(s => (object)trunk.stages[s].Count).ToList();
        var reference = PythonReference.Run(new ReferenceCase("resnet_trunk", new Dictionary<string, object> { ["blocks"] = blocks }, inputs));

        var ours = new Dictionary<string, Tensor>(LayerParity.ParameterGradients(trunk)) { ["y"] = y, ["grad/x"] = x.grad! };
        LayerParity.AssertMatches("resnet trunk", reference, ours, Tolerance.Layer);
        Assert.Equal([2L, 128, 4, 4], y.shape);
    }

    [Fact]
    public void Bad_settings_and_shapes_are_typed_errors()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResNetTrunk(5));
        using var trunk = new ResNetTrunk(1);
        Assert.Contains("[B, 3, H, W]", Assert.Throws<ArgumentException>(() => trunk.forward(zeros(1, 1, 32, 32))).Message);
        Assert.Contains("multiples of 4", Assert.Throws<ArgumentException>(() => trunk.forward(zeros(1, 3, 30, 30))).Message);
    }
}
