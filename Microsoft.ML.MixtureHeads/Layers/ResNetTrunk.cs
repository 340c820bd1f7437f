using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The first <see cref="Stages"/> stages of ResNet-18 (He et al. 2016) as ML.NET's pretrained package has it, without
/// its pooling and classifier: a 7x7 stride-2 convolution, normalisation, ReLU and 3x3 stride-2 max pooling (part 0),
/// then stages of <see cref="ResNetBasicBlock"/>s of 64, 128, 256 and 512 channels, each after the first halving the
/// grid (parts 1..Stages). The package's network (a CNTK export) has 2, 2, 2 and 3 blocks per stage - one block more
/// in the last stage than torchvision's ResNet-18. [B, 3, H, W] -> [B, C, H / s, W / s] with s = 4 * 2^(Stages - 1).
/// Parameters: <c>stem</c>, <c>stages.{i}.{j}</c>. Its pretrained weights come from <see cref="Persistence.PretrainedResNet18"/>.
/// </summary>
public sealed class ResNetTrunk : ExportableModule
{
    private static readonly long[] Widths = [64, 128, 256, 512];

    /// <summary>Blocks per stage of the pretrained network.</summary>
    public static IReadOnlyList<int> BlocksPerStage { get; } = [2, 2, 2, 3];

    /// <summary>The 7x7 stride-2 convolution and its normalisation.</summary>
    public readonly ConvBatchNorm stem;

    /// <summary>The stages, each a list of blocks.</summary>
    public readonly ModuleList<ModuleList<ResNetBasicBlock>> stages;

    /// <summary>How many of ResNet-18's four stages the trunk keeps.</summary>
    public int Stages { get; }

    /// <summary>Channels of the output.</summary>
    public long OutChannels => Widths[Stages - 1];

    /// <summary>Total stride: input side / output side.</summary>
    public int Stride => 4 << (Stages - 1);

    /// <summary>Parts of the forward: the stem (0) and each stage (1..<see cref="Stages"/>).</summary>
    public int Parts => Stages + 1;

    /// <summary>Builds the trunk with fresh weights (load pretrained ones with <see cref="Persistence.PretrainedResNet18"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="stageCount"/> is not 1-4.</exception>
    public ResNetTrunk(int stageCount) : base(nameof(ResNetTrunk))
    {
        if (stageCount is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(stageCount), $"ResNet-18 has 4 stages; got {stageCount}.");
        Stages = stageCount;
        stem = new ConvBatchNorm(3, Widths[0], kernelSize: 7, stride: 2, padding: 3);
        var list = new List<ModuleList<ResNetBasicBlock>>();
        for (int s = 0; s < stageCount; s++)
        {
            long input = s == 0 ? Widths[0] : Widths[s - 1];
            var blocks = Enumerable.Range(0, BlocksPerStage[s]).Select(b => b == 0 ? new ResNetBasicBlock(input, Widths[s], s == 0 ? 1 : 2) : new ResNetBasicBlock(Widths[s], Widths[s], 1));
            list.Add(new ModuleList<ResNetBasicBlock>(blocks.ToArray()));
        }
        stages = new ModuleList<ModuleList<ResNetBasicBlock>>(list.ToArray());
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor images) => ForwardParts(images, 0, Parts);

    /// <summary>Parts [<paramref name="first"/>, <paramref name="end"/>) of the forward: 0 reads the images, part p &gt; 0 is stage p.</summary>
    public Tensor ForwardParts(Tensor x, int first, int end)
    {
        if (first < 0 || end > Parts || first >= end) throw new ArgumentOutOfRangeException(nameof(first), $"Parts [{first}, {end}) of a trunk of {Parts} parts.");
        if (first == 0)
        {
            if (x.dim() != 4 || x.shape[1] != 3 || x.shape[2] % Stride != 0 || x.shape[3] % Stride != 0)
                throw new ArgumentException($"The ResNet trunk expects [B, 3, H, W] with H and W multiples of {Stride}; got [{string.Join(", ", x.shape)}].", nameof(x));
            x = F.max_pool2d(F.relu(stem.call(x)), 3, 2, 1);          // [B, 64, H/4, W/4]
        }
        for (int s = Math.Max(first, 1); s < end; s++)
            foreach (var block in stages[s - 1]) x = block.call(x);    // [B, C_s, H/2^(s+1), W/2^(s+1)]
        return x;
    }

    /// <summary>The output shape [C, h, w] of part <paramref name="part"/> for square images of side <paramref name="imageSize"/>.</summary>
    public long[] PartOutputShape(int part, int imageSize)
    {
        if (part < 0 || part >= Parts) throw new ArgumentOutOfRangeException(nameof(part), $"A trunk of {Parts} parts has no part {part}.");
        long side = imageSize / (4 << Math.Max(part - 1, 0));
        return [Widths[Math.Max(part - 1, 0)], side, side];
    }

    /// <summary>The parameters of part <paramref name="part"/> (0: the stem; p: stage p).</summary>
    public IEnumerable<Parameter> PartParameters(int part) => part == 0 ? stem.parameters() : stages[part - 1].parameters();

    /// <inheritdoc />
    public override string EmitOnnx(OnnxGraphBuilder graph, string input, string prefix)
    {
        string x = graph.MaxPool(graph.Relu(stem.EmitOnnx(graph, input, OnnxGraphBuilder.ParameterName(prefix, "stem"))), 3, 2, 1);
        for (int s = 0; s < Stages; s++)
            for (int b = 0; b < stages[s].Count; b++)
                x = stages[s][b].EmitOnnx(graph, x, OnnxGraphBuilder.ParameterName(prefix, $"stages.{s}.{b}"));
        return x;
    }
}
