using Microsoft.ML.MixtureHeads.Layers;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>The 2411.16205 parity configurations, checked against the table in specs/mhmoe.md section 3 and 5.</summary>
public sealed class MoEPresetsTests
{
    private static (string Name, MultiHeadMoEOptions Options)[] Presets(long dim, long dMoe) =>
    [
        ("SMoE", MoEPresets.SparseMoE(dim, dMoe)),
        ("fine-grained", MoEPresets.FineGrained(dim, dMoe)),
        ("h2", MoEPresets.MultiHead(dim, dMoe, 2)),
        ("h3", MoEPresets.MultiHead(dim, dMoe, 3)),
    ];

    /// <summary>(experts, hidden, top-k, heads, head projections) per preset, from the spec's tables.</summary>
    [Theory]
    [InlineData(768, 2048, new long[] { 8, 2048, 1, 1, 0, 16, 1024, 2, 1, 0, 40, 768, 2, 2, 1, 96, 512, 3, 3, 1 }, 4_718_592)]
    [InlineData(96, 256, new long[] { 8, 256, 1, 1, 0, 16, 128, 2, 1, 0, 40, 96, 2, 2, 1, 96, 64, 3, 3, 1 }, 73_728)]
    [InlineData(192, 512, new long[] { 8, 512, 1, 1, 0, 16, 256, 2, 1, 0, 40, 192, 2, 2, 1, 96, 128, 3, 3, 1 }, 3 * 192 * 512)]
    public void Reproduce_the_spec_tables(long dim, long dMoe, long[] expected, long macsPerToken)
    {
        var presets = Presets(dim, dMoe);
        for (int i = 0; i < presets.Length; i++)
        {
            var o = presets[i].Options;
            long[] actual = [o.Experts, o.ExpertHidden, o.TopK, o.Heads, o.UsesHeadProjections ? 1 : 0];
            Assert.True(expected.Skip(5 * i).Take(5).SequenceEqual(actual), $"{presets[i].Name} at d={dim}: [{string.Join(", ", actual)}]");
            Assert.Equal(2 * macsPerToken, MoEPresets.FlopsPerToken(o));
        }
        Assert.Equal(2 * macsPerToken, MoEPresets.DenseFlopsPerToken(dim, dMoe));
    }

    [Fact]
    public void Small_presets_have_the_spec_parameter_counts()
    {
        // specs/mhmoe.md section 5: MoE-layer params 0.59M / 0.59M / 0.57M / 0.61M at d = 96, d_moe = 256.
        using var scope = NewDisposeScope();
        double[] millions = Presets(96, 256).Select(p => Math.Round(new MultiHeadMoE(p.Options).parameters().Sum(t => t.numel()) / 1e6, 2)).ToArray();
        Assert.Equal([0.59, 0.59, 0.57, 0.61], millions);
    }

    [Fact]
    public void Presets_without_exact_parity_are_rejected()
    {
        Assert.Equal("dMoe", Assert.Throws<ArgumentException>(() => MoEPresets.MultiHead(96, 251, 2)).ParamName);
        Assert.Equal("dMoe", Assert.Throws<ArgumentException>(() => MoEPresets.FineGrained(96, 255)).ParamName);
        Assert.Equal("heads", Assert.Throws<ArgumentException>(() => MoEPresets.MultiHead(96, 256, 1)).ParamName);
        Assert.Equal("dim", Assert.Throws<ArgumentException>(() => MoEPresets.MultiHead(96, 256, 5)).ParamName);
    }
}
