using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary>Empty batches and sequences, and layers or networks used after Dispose: a clear typed error, never a raw libtorch one.</summary>
public sealed class LayerMisuseTests
{
    private static MoHAttention Attention(bool skipHeads)
    {
        var attention = new MoHAttention(new MoHAttentionOptions { Dim = 16, Heads = 4, SharedHeads = 1, RoutedTopK = 1, Routing = HeadRouting.Learned })
        {
            SkipInactiveHeads = skipHeads,
        };
        attention.eval();
        return attention;
    }

    [Theory]
    [InlineData(false, 2, 0, "no token")]
    [InlineData(true, 2, 0, "no token")]
    [InlineData(false, 0, 5, "no sequence")]
    [InlineData(true, 0, 5, "no sequence")]
    public void MoHAttention_refuses_an_empty_batch_or_sequence_naming_the_shape(bool skipHeads, long batch, long tokens, string what)
    {
        using var attention = Attention(skipHeads);
        using var x = zeros(batch, tokens, 16);

        var error = Assert.Throws<ArgumentException>(() => attention.call(new AttentionInput(x)));

        Assert.Contains(what, error.Message);
        Assert.Contains($"[{batch}, {tokens}, 16]", error.Message);
    }

    [Fact]
    public void MultiHeadMoE_refuses_an_empty_sequence()
    {
        using var moe = new MultiHeadMoE(new MultiHeadMoEOptions { Dim = 16, Heads = 2, Experts = 4, TopK = 2, ExpertHidden = 8 });
        using var x = zeros(2, 0, 16);

        Assert.Contains("at least one token", Assert.Throws<ArgumentException>(() => moe.call(x, null)).Message);
    }

    public static TheoryData<string> TensorLayers => ["ExportableLinear", "BitLinear", "RMSNorm", "SwiGLU", "GeluMlp", "PatchEmbedding", "ConvStem"];

    [Theory]
    [MemberData(nameof(TensorLayers))]
    public void Tensor_layers_map_an_empty_batch_to_an_empty_output(string layer)
    {
        (ExportableModule module, long[] input, long[] output) = layer switch
        {
            "ExportableLinear" => ((ExportableModule)new ExportableLinear(16, 8), new long[] { 0, 16 }, new long[] { 0, 8 }),
            "BitLinear" => (new BitLinear(16, 8), [2, 0, 16], [2, 0, 8]),
            "RMSNorm" => (new RMSNorm(16), [0, 16], [0, 16]),
            "SwiGLU" => (new SwiGLU(16, 32), [0, 16], [0, 16]),
            "GeluMlp" => (new GeluMlp(16, 32), [2, 0, 16], [2, 0, 16]),
            "PatchEmbedding" => (new PatchEmbedding(1, 16, 4), [0, 1, 8, 8], [0, 4, 16]),
            _ => (new ConvStem(1, 16, 4), [0, 1, 8, 8], [0, 4, 16]),
        };
        using (module)
        using (var x = zeros(input))
        using (var y = module.call(x))
            Assert.Equal(output, y.shape);
    }

    [Fact]
    public void Layers_and_networks_used_after_Dispose_say_so_naming_their_type()
    {
        using var x = zeros(2, 5, 16);
        using var image = zeros(2, 1, 8, 8);
        var attention = Attention(skipHeads: false);
        var moe = new MultiHeadMoE(new MultiHeadMoEOptions { Dim = 16, Heads = 2, Experts = 4, TopK = 2, ExpertHidden = 8 });
        var linear = new ExportableLinear(16, 8);
        var network = new MoHVisionTransformer(new VisionTransformerConfig { ImageSize = 8, PatchSize = 4, Stem = ImageStem.Patch, Dim = 16, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2 });
        attention.Dispose();
        moe.Dispose();
        linear.Dispose();
        network.Dispose();

        Assert.Equal(nameof(MoHAttention), Assert.Throws<ObjectDisposedException>(() => attention.call(new AttentionInput(x))).ObjectName.Split('.')[^1]);
        Assert.Equal(nameof(MultiHeadMoE), Assert.Throws<ObjectDisposedException>(() => moe.call(x, null)).ObjectName.Split('.')[^1]);
        Assert.Equal(nameof(ExportableLinear), Assert.Throws<ObjectDisposedException>(() => linear.call(x)).ObjectName.Split('.')[^1]);
        Assert.Equal(nameof(MoHVisionTransformer), Assert.Throws<ObjectDisposedException>(() => network.call(image)).ObjectName.Split('.')[^1]);
    }
}
