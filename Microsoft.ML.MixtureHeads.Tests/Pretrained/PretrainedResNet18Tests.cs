using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>
/// ImageNet ResNet-18 imported from ML.NET's DnnImageFeaturizer package: the imported trunk (and the hybrid model's own
/// pixel preparation) give what ONNX Runtime gives on the package's original ONNX files, for real Fashion-MNIST images.
/// </summary>
public sealed class PretrainedResNet18Tests
{
    private static readonly (string Model, string Preprocess) Files = PretrainedResNet18.Locate();

    /// <summary>Four test images, upscaled to 224 and repeated to RGB, 0-255: [4, 3, 224, 224].</summary>
    private static Tensor RealImages()
    {
        var images = FashionMnistData.Read(FashionMnistSplit.Test).Take(4).Rows().Select(i => i.Pixels).ToArray();
        var gray = tensor(images.SelectMany(p => p).ToArray()).view(4, 1, 28, 28);
        return nn.functional.interpolate(gray, [224, 224], mode: InterpolationMode.Bilinear, align_corners: false).expand(4, 3, 224, 224).contiguous();
    }

    [Fact]
    public void The_imported_trunk_equals_ResNet18_onnx_in_OnnxRuntime()
    {
        using var scope = NewDisposeScope();
        using var trunk = new ResNetTrunk(4);
        PretrainedResNet18.LoadInto(trunk, OnnxModelReader.Read(File.ReadAllBytes(Files.Model)));
        trunk.eval();
        var mean = PretrainedResNet18.MeanImage(OnnxModelReader.Read(File.ReadAllBytes(Files.Preprocess)));
        var bgr = RealImages().flip(1) - mean;

        using var session = new OnnxSession(File.ReadAllBytes(Files.Model));
        using var noGrad = no_grad();
        var ours = trunk.forward(bgr).mean([2, 3], keepdim: true);                 // [4, 512, 1, 1]: the package model's average pooling
        for (int i = 0; i < 4; i++)
        {
            var expected = session.Run(("Input247", bgr[i..(i + 1)]))["Pooling395_Output_0"];
            Assert.True(expected.abs().max().item<float>() > 0.1f, "the reference features are all zero");
            ParityAssert.Close($"image {i}", expected, ours[i..(i + 1)], Tolerance.Layer);
        }
    }

    [Fact]
    public void The_hybrid_model_prepares_pixels_as_ML_NET_does_before_the_trunk()
    {
        using var scope = NewDisposeScope();
        using var network = new MoHHybridVisionTransformer(new HybridVisionTransformerConfig { Dim = 32, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, Classes = 3 });
        PretrainedResNet18.LoadInto(network);
        network.eval();
        var pixels = RealImages();
        var ours = network.FrozenFeatures(pixels).mean([2, 3], keepdim: true);
        using var preprocess = new OnnxSession(File.ReadAllBytes(Files.Preprocess));
        using var model = new OnnxSession(File.ReadAllBytes(Files.Model));
        for (int i = 0; i < 4; i++)
        {
            var prepared = preprocess.Run(("OriginalInput", pixels[i..(i + 1)]))["PreprocessedInput"];
            ParityAssert.Close($"image {i}", model.Run(("Input247", prepared))["Pooling395_Output_0"], ours[i..(i + 1)], Tolerance.Layer);
        }
    }

    [Fact]
    public void The_exported_hybrid_graph_with_the_imported_trunk_equals_the_forward_through_a_split_trunk()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var network = new MoHHybridVisionTransformer(new HybridVisionTransformerConfig
        {
            ImageSize = 64, TrainableTrunkStages = 1, Dim = 32, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, Classes = 3,
        });
        PretrainedResNet18.LoadInto(network);
        network.eval();
        var graph = new OnnxGraphBuilder();
        graph.Output(network.EmitOnnx(graph, "pixels"), "logits", OnnxElementType.Float, "batch", 3);
        var pixels = nn.functional.interpolate(RealImages(), [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);
        using var noGrad = no_grad();
        ParityAssert.Close("logits", network.forward(pixels).Output, OnnxSession.Run(graph.ToBytes(), ("pixels", pixels))["logits"], Tolerance.Layer);
    }

    [Fact]
    public void A_missing_weights_package_names_the_package_to_add()
    {
        var folder = Directory.CreateTempSubdirectory("mixtureheads-no-weights-").FullName;
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => PretrainedResNet18.Locate(folder));
            Assert.Contains(PretrainedResNet18.PackageName, error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
