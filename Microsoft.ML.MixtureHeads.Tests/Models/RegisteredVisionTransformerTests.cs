using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>timm's "test every registered model": forward, backward, ONNX export parity and checkpoint round trip.</summary>
public sealed class RegisteredVisionTransformerTests
{
    public static TheoryData<string> Names() => new(ModelRegistry.List(configType: typeof(VisionTransformerConfig)));

    private static (MoHVisionTransformer Network, Tensor Pixels) Build(string name, int batch)
    {
        manual_seed(11);
        var network = new MoHVisionTransformer(ModelRegistry.Get<VisionTransformerConfig>(name));
        var config = network.Config;
        var pixels = rand(batch, config.Channels, config.ImageSize, config.ImageSize) * 255;
        return (network, pixels);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Forward_and_backward_reach_every_parameter(string name)
    {
        using var scope = NewDisposeScope();
        var (network, pixels) = Build(name, batch: 4);
        network.train();
        var output = network.forward(pixels);
        Assert.Equal([4L, network.Config.Classes], output.Output.shape);
        Assert.Equal(network.Config.Depth, output.HeadGates.Count);
        bool routes = network.Config.Routing != HeadRouting.Dense || network.Config.FeedForward == FeedForwardKind.MultiHeadMoE;
        Assert.Equal(routes, output.BalanceLoss is not null);

        var loss = F.cross_entropy(output.Output, randint(0, network.Config.Classes, [4])) + (output.BalanceLoss ?? zeros(1)).sum() * 0.01;
        loss.backward();
        var missing = network.named_parameters().Where(p => p.parameter.grad is null || p.parameter.grad.abs().sum().item<float>() == 0).Select(p => p.name).ToList();
        // With 4 images an expert may receive no token; every other parameter must get a gradient.
        Assert.All(missing, n => Assert.Contains(".moe.experts.", n));
        network.Dispose();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Onnx_runtime_equals_the_TorchSharp_forward_and_the_checkpoint_rebuilds_the_network(string name)
    {
        using var scope = NewDisposeScope();
        var (network, pixels) = Build(name, batch: 3);
        network.eval();
        using var noGrad = no_grad();
        var expected = softmax(network.forward(pixels).Output, 1);
        string[] classes = Enumerable.Range(0, network.Config.Classes).Select(i => $"c{i}").ToArray();
        byte[] onnx = ClassifierExport.Export(network, classes, "pixels");

        var outputs = OnnxSession.Run(onnx, ("pixels", pixels));
        ParityAssert.Close($"{name} ONNX Score", expected, outputs["Score"], Tolerance.Reduction);
        ParityAssert.Equal($"{name} ONNX index", expected.argmax(1), outputs["index"]);

        var checkpoint = MixtureHeadsCheckpoint.FromOnnx(onnx);
        Assert.Equal(classes, checkpoint.ClassNames);
        using var rebuilt = ClassifierExport.Rebuild(checkpoint);
        rebuilt.Module.eval();
        ParityAssert.Close($"{name} rebuilt forward", expected, softmax(rebuilt.forward(pixels).Output, 1), Tolerance.Fp32);
        network.Dispose();
    }

    [Fact]
    public void A_bad_image_shape_is_a_typed_error_naming_the_shape()
    {
        using var scope = NewDisposeScope();
        var (network, _) = Build("moh_vit_tiny_75", 1);
        var error = Assert.Throws<ArgumentException>(() => network.forward(rand(2, 3, 28, 28)));
        Assert.Contains("[B, 1, 28, 28]", error.Message);
        Assert.Contains("[2, 3, 28, 28]", error.Message);
        Assert.Throws<ArgumentException>(() => network.forward(rand(2, 1, 30, 30)));
        network.Dispose();
    }

    [Fact]
    public void Unknown_architecture_names_list_the_registered_ones()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ModelRegistry.Get<VisionTransformerConfig>("moh_vit_huge"));
        Assert.Contains("moh_vit_tiny_75", error.Message);
    }
}
