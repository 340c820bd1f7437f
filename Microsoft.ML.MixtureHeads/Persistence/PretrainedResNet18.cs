using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// ImageNet ResNet-18 weights from ML.NET's <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> package, which copies
/// <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> (a CNTK export whose initializers are named <c>ParameterNN</c>) and
/// <c>DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx</c> (RGB to BGR, minus a mean image) into the app's output.
/// The weights are mapped by walking the graph - stem, then each block's two convolutions, normalisations and shortcut -
/// so every shape and connection is checked rather than trusted to names.
/// </summary>
public static class PretrainedResNet18
{
    /// <summary>The NuGet package that carries the weights.</summary>
    public const string PackageName = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The side of the images the mean image (and ML.NET's featurizer) is made for.</summary>
    public const int NativeImageSize = 224;

    /// <summary>The folder holding <c>ResNet18Onnx/ResNet18.onnx</c> and <c>ResNetPrepOnnx/ResNetPreprocess.onnx</c>:
    /// <paramref name="folder"/> when given, else <c>DnnImageModels</c> next to the app.</summary>
    /// <exception cref="FileNotFoundException">The files are not there; the message names the package to reference.</exception>
    public static (string Model, string Preprocess) Locate(string? folder = null)
    {
        folder ??= Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        string model = Path.Combine(folder, "ResNet18Onnx", "ResNet18.onnx"), preprocess = Path.Combine(folder, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        foreach (string file in new[] { model, preprocess })
            if (!File.Exists(file))
                throw new FileNotFoundException(
                    $"The pretrained ResNet-18 weights were not found at '{file}'. Add the NuGet package {PackageName} 0.24.0 to the app " +
                    $"(it copies DnnImageModels/ into the output, as for ML.NET's DnnFeaturizeImage), or set PretrainedWeightsFolder to a folder holding ResNet18Onnx/ResNet18.onnx and ResNetPrepOnnx/ResNetPreprocess.onnx.", file);
        return (model, preprocess);
    }

    /// <summary>Loads the ImageNet weights into <paramref name="network"/>'s trunk and its mean image (resized bilinearly
    /// when the network's images are not 224 pixels), from <see cref="Locate"/>'s files.</summary>
    /// <exception cref="FileNotFoundException">The weights package is not referenced; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is not the ResNet-18 this expects; the message names the place.</exception>
    public static void LoadInto(MoHHybridVisionTransformer network, string? folder = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var (modelFile, preprocessFile) = Locate(folder);
        var model = OnnxModelReader.Read(File.ReadAllBytes(modelFile));
        var preprocess = OnnxModelReader.Read(File.ReadAllBytes(preprocessFile));
        using var scope = NewDisposeScope();
        var mean = MeanImage(preprocess);                                                   // [1, 3, 224, 224]
        int side = network.Config.ImageSize;
        if (side != NativeImageSize)
            mean = nn.functional.interpolate(mean, [side, side], mode: InterpolationMode.Bilinear, align_corners: false);
        LoadInto(network.trunk, model);
        using var noGrad = no_grad();
        network.pixel_mean.copy_(mean);
    }

    /// <summary>Copies the weights of <paramref name="model"/> (ResNet18.onnx) into <paramref name="trunk"/>'s stem and
    /// stages. Everything is matched and checked before anything is copied.</summary>
    /// <exception cref="InvalidDataException">The graph is not the ResNet-18 this expects; the message names the node.</exception>
    public static void LoadInto(ResNetTrunk trunk, OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(trunk);
        ArgumentNullException.ThrowIfNull(model);
        var walk = new GraphWalk(model);
        var copies = new List<(Tensor Target, string Initializer)>();
        string x = model.Inputs.Single(i => model.FindInitializer(i.Name) is null).Name;

        x = walk.ConvBatchNorm(x, 7, trunk.stem.conv, trunk.stem.bn, copies);
        x = walk.Next(walk.Next(x, "Relu").Outputs[0], "MaxPool").Outputs[0];
        for (int s = 0; s < trunk.Stages; s++)
        {
            foreach (var block in trunk.stages[s])
            {
                var convs = walk.Consumers(x, "Conv");
                var main = convs.SingleOrDefault(n => Kernel(n) == 3) ?? throw walk.Unexpected(x, "one 3x3 convolution");
                string h = walk.ConvBatchNorm(main, block.conv1, block.bn1, copies);
                h = walk.Next(h, "Relu").Outputs[0];
                h = walk.ConvBatchNorm(h, 3, block.conv2, block.bn2, copies);
                string shortcut = x;
                if (block.downsample is { } downsample)
                {
                    var projection = convs.SingleOrDefault(n => Kernel(n) == 1) ?? throw walk.Unexpected(x, "a 1x1 shortcut convolution");
                    shortcut = walk.ConvBatchNorm(projection, downsample.conv, downsample.bn, copies);
                }
                var add = walk.Next(h, "Add");
                if (!add.Inputs.Contains(shortcut)) throw walk.Unexpected(h, $"an Add with the shortcut '{shortcut}'");
                x = walk.Next(add.Outputs[0], "Relu").Outputs[0];
            }
            // The next node proves the stage had as many blocks as the trunk: the next stage's shortcut projection, or the pooling.
            bool nextStage = s < ResNetTrunk.BlocksPerStage.Count - 1;
            if (nextStage ? !walk.Consumers(x, "Conv").Any(n => Kernel(n) == 1) : walk.Consumers(x, "AveragePool").Count != 1)
                throw walk.Unexpected(x, nextStage ? $"the end of stage {s + 1} (a 1x1 shortcut convolution)" : "the end of the last stage (AveragePool)");
        }

        using var noGrad = no_grad();
        foreach (var (target, name) in copies)
        {
            using var value = model.InitializerTensor(name);
            target.copy_(value.reshape(target.shape));
        }
    }

    /// <summary>The mean image of <paramref name="preprocess"/> (ResNetPreprocess.onnx), [1, 3, 224, 224] in BGR order, 0-255.</summary>
    /// <exception cref="InvalidDataException">The graph has no such mean image.</exception>
    public static Tensor MeanImage(OnnxModel preprocess)
    {
        ArgumentNullException.ThrowIfNull(preprocess);
        var subtract = preprocess.Nodes.SingleOrDefault(n => n.OpType == "Sub")
            ?? throw new InvalidDataException("ResNetPreprocess.onnx: no Sub node (the mean image subtraction).");
        var mean = subtract.Inputs.Select(preprocess.FindInitializer).SingleOrDefault(t => t is not null)
            ?? throw new InvalidDataException($"ResNetPreprocess.onnx: node '{subtract.Name}' subtracts no initializer.");
        if (!mean.Dims.SequenceEqual([1L, 3, NativeImageSize, NativeImageSize]))
            throw new InvalidDataException($"ResNetPreprocess.onnx: the mean image '{mean.Name}' is [{string.Join(", ", mean.Dims)}], not [1, 3, {NativeImageSize}, {NativeImageSize}].");
        return mean.ToTensor();
    }

    private static long Kernel(OnnxNode conv) => conv.Attribute("kernel_shape")?.IntsValue[0] ?? -1;

    /// <summary>Follows the graph from a value to the nodes that read it.</summary>
    private sealed class GraphWalk(OnnxModel model)
    {
        private readonly ILookup<string, OnnxNode> _consumers = model.Nodes
            .SelectMany(n => n.Inputs.Select(input => (input, n))).ToLookup(p => p.input, p => p.n);

        public List<OnnxNode> Consumers(string value, string opType) => _consumers[value].Where(n => n.OpType == opType).ToList();

        public OnnxNode Next(string value, string opType) =>
            Consumers(value, opType) is [var node] ? node : throw Unexpected(value, $"one {opType} node");

        public InvalidDataException Unexpected(string value, string expected) => new(
            $"ResNet18.onnx does not have the ResNet-18 layout: after '{value}' expected {expected}, found [{string.Join(", ", _consumers[value].Select(n => $"{n.OpType} '{n.Name}'"))}].");

        public string ConvBatchNorm(string input, long kernel, ExportableConv2d conv, FrozenBatchNorm2d bn, List<(Tensor, string)> copies)
        {
            var node = Next(input, "Conv");
            return Kernel(node) == kernel ? ConvBatchNorm(node, conv, bn, copies) : throw Unexpected(input, $"a {kernel}x{kernel} convolution");
        }

        public string ConvBatchNorm(OnnxNode convNode, ExportableConv2d conv, FrozenBatchNorm2d bn, List<(Tensor, string)> copies)
        {
            long stride = convNode.Attribute("strides")?.IntsValue[0] ?? 1;
            if (stride != conv.Stride || convNode.Attribute("group") is { IntValue: not 1 })
                throw new InvalidDataException($"ResNet18.onnx: convolution '{convNode.Name}' has stride {stride}; the trunk's has {conv.Stride}.");
            copies.Add(Checked(conv.weight, convNode.Inputs[1], convNode.Name));
            if (convNode.Inputs.Count > 2) throw new InvalidDataException($"ResNet18.onnx: convolution '{convNode.Name}' has a bias; ResNet-18's have none.");
            var norm = Next(convNode.Outputs[0], "BatchNormalization");
            float epsilon = norm.Attribute("epsilon")?.FloatValue ?? 1e-5f;
            if (Math.Abs(epsilon - 1e-5f) > 1e-9f) throw new InvalidDataException($"ResNet18.onnx: '{norm.Name}' has epsilon {epsilon}, not 1e-5.");
            copies.Add(Checked(bn.weight, norm.Inputs[1], norm.Name));
            copies.Add(Checked(bn.bias, norm.Inputs[2], norm.Name));
            copies.Add(Checked(bn.running_mean, norm.Inputs[3], norm.Name));
            copies.Add(Checked(bn.running_var, norm.Inputs[4], norm.Name));
            return norm.Outputs[0];
        }

        private (Tensor, string) Checked(Tensor target, string initializer, string node)
        {
            var source = model.FindInitializer(initializer) ?? throw new InvalidDataException($"ResNet18.onnx: '{node}' reads '{initializer}', which is not an initializer.");
            if (source.Dims.Aggregate(1L, (a, b) => a * b) != target.numel() || source.ElementType != OnnxElementType.Float)
                throw new InvalidDataException($"ResNet18.onnx: '{initializer}' of '{node}' is {source}; the trunk needs Float[{string.Join(", ", target.shape)}].");
            return (target, initializer);
        }
    }
}
