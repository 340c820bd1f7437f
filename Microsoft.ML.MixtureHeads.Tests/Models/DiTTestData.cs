using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>Small MoH-DiTs with every weight random (so no gradient is trivially zero) and inputs whose routing has no near tie.</summary>
internal static class DiTTestData
{
    /// <summary>8 x 8 x 1 images in 2 x 2 patches (16 tokens), width 32, 2 blocks of 4 heads, 3 classes.</summary>
    public static DiTConfig Small => new()
    {
        ImageSize = 8, PatchSize = 2, Channels = 1, Classes = 3, Dim = 32, Depth = 2, Heads = 4, MlpRatio = 2, FrequencyEmbeddingSize = 16,
        Routing = HeadRouting.Dense, SharedHeads = 0, RoutedTopK = 0,
    };

    /// <summary>Shared 1 + top-2 of 3 routed heads in block 0; block 1 dense.</summary>
    public static DiTConfig SmallMoH => Small with { Routing = HeadRouting.Learned, SharedHeads = 1, RoutedTopK = 2, DenseLastBlocks = 1 };

    /// <summary>Shared 2 + top-1 of 2 routed heads in every block.</summary>
    public static DiTConfig SmallMoHEveryBlock => Small with { Routing = HeadRouting.Learned, SharedHeads = 2, RoutedTopK = 1 };

    /// <summary>A model with random weights and a batch (x, t in [0, 1000), labels including the null class) with tie-free routing.</summary>
    public static (MoHDiT Model, DiTInput Input) Generate(DiTConfig config, long batch, int seed)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            manual_seed(seed + 7919 * attempt);
            var model = new MoHDiT(config);
            Randomise(model);
            var input = new DiTInput(randn(batch, config.Channels, config.ImageSize, config.ImageSize), rand(batch) * 999,
                randint(0, config.Classes + 1, [batch], dtype: ScalarType.Int64));
            if (MinimumTopKGap(model, input) > MoHTestData.MinimumTopKGap) return (model, input);
            model.Dispose();
        }
        throw new InvalidOperationException("No tie-free routing found.");
    }

    /// <summary>Every weight N(0, 1/fan_in), every bias and embedding row N(0, 0.1): modulation and output layer are no longer zero.</summary>
    public static void Randomise(MoHDiT model)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (parameter.dim() >= 2 && !name.Contains("embedding_table", StringComparison.Ordinal))
                parameter.normal_(0, 1.0 / Math.Sqrt(parameter.numel() / parameter.shape[0]));
            else parameter.normal_(0, 0.1);
        }
    }

    /// <summary>The smallest top-k gap of any routed block on what its attention reads in the eval forward.</summary>
    private static double MinimumTopKGap(MoHDiT model, DiTInput input)
    {
        double gap = double.PositiveInfinity;
        var hooks = model.blocks.Select(b => b.attn.register_forward_hook((layer, x, output) =>
        {
            gap = Math.Min(gap, MoHTestData.TopKGap((MoHAttention)layer, x.X));
            return output;
        })).ToList();
        using (no_grad()) model.forward(input);
        foreach (var hook in hooks) hook.remove();
        return gap;
    }
}
