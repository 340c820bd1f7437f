using Microsoft.ML.MixtureHeads.Models;

using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>
/// Runs a trained vision transformer (from <c>MixtureHeadsCheckpoint.FromZip(path).CreateNetwork()</c>) in eval mode
/// and reads which attention heads each token used, for the head-usage pictures.
/// </summary>
public static class HeadUsageProbe
{
    private const int BatchSize = 64;

    /// <summary>Per block, the share of each class's tokens that used each routed head.</summary>
    /// <param name="network">A vision transformer network.</param>
    /// <param name="images">Pixels 0-255, planar [C, H, W] at the network's image size (what ML.NET's <c>ExtractPixels</c> gives), with each image's class index.</param>
    /// <param name="classNames">The class names, in class-index order.</param>
    /// <exception cref="ArgumentException">The network is not a vision transformer, a pixel vector has the wrong length, or a class index is out of range.</exception>
    public static ClassHeadUsage PerClass(IMixtureHeadsNetwork network, IEnumerable<(float[] Pixels, int ClassIndex)> images, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(classNames);
        var (vit, config) = VisionTransformer(network);
        int routed = config.Heads - config.SharedHeads;
        var sums = new double[config.Depth, classNames.Count, routed];
        var counts = new long[classNames.Count];
        foreach (var batch in images.Chunk(BatchSize))
        {
            foreach (var (_, classIndex) in batch)
                if (classIndex < 0 || classIndex >= classNames.Count)
                    throw new ArgumentException($"Class index {classIndex} is outside the {classNames.Count} class names.", nameof(images));
            var gates = Gates(vit, config, batch.Select(image => image.Pixels).ToArray());
            for (int i = 0; i < batch.Length; i++)
            {
                int classIndex = batch[i].ClassIndex;
                counts[classIndex]++;
                for (int block = 0; block < config.Depth; block++)
                {
                    var imageGates = gates[i][block];
                    int tokens = imageGates.GetLength(0);
                    for (int head = 0; head < routed; head++)
                    {
                        int used = 0;
                        for (int token = 0; token < tokens; token++) used += imageGates[token, config.SharedHeads + head] != 0 ? 1 : 0;
                        sums[block, classIndex, head] += (double)used / tokens;
                    }
                }
            }
        }
        var usage = new double[config.Depth][,];
        for (int block = 0; block < config.Depth; block++)
        {
            usage[block] = new double[classNames.Count, routed];
            for (int c = 0; c < classNames.Count; c++)
                for (int head = 0; head < routed; head++)
                    usage[block][c, head] = counts[c] == 0 ? double.NaN : sums[block, c, head] / counts[c];
        }
        return new ClassHeadUsage(classNames, config.SharedHeads, usage);
    }

    /// <summary>Per block, the routed heads each patch of one image used.</summary>
    /// <param name="network">A vision transformer network.</param>
    /// <param name="pixels">Pixels 0-255, planar [C, H, W] at the network's image size.</param>
    /// <exception cref="ArgumentException">The network is not a vision transformer or the pixel vector has the wrong length.</exception>
    public static PatchHeadUsage PerPatch(IMixtureHeadsNetwork network, float[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var (vit, config) = VisionTransformer(network);
        // Scored as a batch of two copies: libtorch tries NNPACK for a convolution of batch 1 and warns on every call where it cannot.
        var gates = Gates(vit, config, [pixels, pixels])[0];
        int tokens = gates[0].GetLength(0);
        int side = (int)Math.Round(Math.Sqrt(tokens));
        int first = side * side == tokens ? 0 : 1; // a class token comes first
        if (first == 1) side = (int)Math.Round(Math.Sqrt(tokens - 1));
        if (side * side + first != tokens)
            throw new ArgumentException($"The network's {tokens} tokens do not form a square grid of patches.", nameof(network));
        var heads = new int[gates.Length][,][];
        for (int block = 0; block < gates.Length; block++)
        {
            heads[block] = new int[side, side][];
            for (int row = 0; row < side; row++)
                for (int column = 0; column < side; column++)
                {
                    int token = first + row * side + column;
                    heads[block][row, column] = Enumerable.Range(config.SharedHeads, config.Heads - config.SharedHeads)
                        .Where(h => gates[block][token, h] != 0).Select(h => h - config.SharedHeads).ToArray();
                }
        }
        return new PatchHeadUsage(pixels, config.Channels, config.ImageSize, config.Heads - config.SharedHeads, heads);
    }

    private static (IMixtureHeadsNetwork<Tensor> Network, VisionTransformerConfig Config) VisionTransformer(IMixtureHeadsNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return network is IMixtureHeadsNetwork<Tensor> vit && network.Config is VisionTransformerConfig config
            ? (vit, config)
            : throw new ArgumentException($"Head usage per image needs a vision transformer; got a '{network.Kind}' network.", nameof(network));
    }

    /// <summary>Per image, per block: the gates [tokens, heads] (0 = head not used).</summary>
    private static float[][][,] Gates(IMixtureHeadsNetwork<Tensor> network, VisionTransformerConfig config, float[][] images)
    {
        int expected = config.Channels * config.ImageSize * config.ImageSize;
        foreach (var pixels in images)
        {
            ArgumentNullException.ThrowIfNull(pixels, nameof(images));
            if (pixels.Length != expected)
                throw new ArgumentException($"Expected {expected} pixels ({config.Channels} x {config.ImageSize} x {config.ImageSize}), got {pixels.Length}.", nameof(images));
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        network.Module.eval();
        var input = tensor(images.SelectMany(pixels => pixels).ToArray()).reshape(images.Length, config.Channels, config.ImageSize, config.ImageSize);
        var blocks = network.forward(input).HeadGates.Select(g => g.reshape(images.Length, -1, g.shape[^1]).cpu()).ToArray(); // [B, tokens, H] each
        var result = new float[images.Length][][,];
        for (int i = 0; i < images.Length; i++)
            result[i] = blocks.Select(g =>
            {
                var values = g[i].data<float>().ToArray();
                var gates = new float[g.shape[1], g.shape[2]];
                Buffer.BlockCopy(values, 0, gates, 0, values.Length * sizeof(float));
                return gates;
            }).ToArray();
        return result;
    }
}
