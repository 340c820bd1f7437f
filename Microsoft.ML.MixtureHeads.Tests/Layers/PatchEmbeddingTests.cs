using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

public sealed class PatchEmbeddingTests
{
    [Fact]
    public void Patches_are_projected_in_row_major_order()
    {
        using var scope = NewDisposeScope();
        var embed = new PatchEmbedding(inChannels: 3, dim: 10, patchSize: 4);
        var images = randn(2, 3, 8, 12);
        var tokens = embed.forward(images);                                   // [2, 2*3, 10]
        Assert.Equal([2L, 6, 10], tokens.shape);
        // Token (row r, column c) = W . flatten(image[:, :, 4r:4r+4, 4c:4c+4]) + b, computed by hand.
        var weight = embed.proj.weight!.reshape(10, -1);
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 3; c++)
            {
                var patch = images[.., .., (4 * r)..(4 * r + 4), (4 * c)..(4 * c + 4)].reshape(2, -1);
                var expected = nn.functional.linear(patch, weight, embed.proj.bias);
                Assert.True(tokens[.., r * 3 + c].allclose(expected, rtol: 1e-4, atol: 1e-5), $"patch ({r}, {c})");
            }
    }

    [Fact]
    public void State_dict_uses_timm_names_and_bad_images_throw()
    {
        using var scope = NewDisposeScope();
        var embed = new PatchEmbedding(1, 8, 7);
        Assert.Equal(new[] { "proj.bias", "proj.weight" }, embed.state_dict().Keys.Order());
        Assert.Equal([8L, 1, 7, 7], embed.proj.weight!.shape);
        Assert.Throws<ArgumentException>(() => embed.forward(randn(2, 3, 28, 28)));
        Assert.Throws<ArgumentException>(() => embed.forward(randn(2, 1, 27, 28)));
        Assert.Throws<ArgumentException>(() => embed.forward(randn(1, 28, 28)));
        Assert.Equal([2L, 16, 8], embed.forward(randn(2, 1, 28, 28)).shape);
    }
}
