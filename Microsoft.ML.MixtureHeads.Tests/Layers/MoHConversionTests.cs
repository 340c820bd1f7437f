using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

public sealed class MoHConversionTests
{
    private static MoHAttention TrainedDense(bool causal = false)
    {
        manual_seed(21);
        var dense = new MoHAttention(new MoHAttentionOptions { Dim = 48, Heads = 6, Causal = causal });
        MoHTestData.Randomise(dense);
        return dense;
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(2, true)]
    public void With_top_k_equal_to_the_routed_heads_the_converted_layer_equals_the_dense_one(int sharedHeads, bool causal)
    {
        using var scope = NewDisposeScope();
        var dense = TrainedDense(causal);
        var converted = MoHConversion.FromDense(dense, sharedHeads, topK: 6 - sharedHeads);
        Assert.Equal(HeadRouting.ParameterFree, converted.Options.Routing);
        var x = randn(2, 9, 48);
        var padding = MoHTestData.KeyPadding(2, 9);
        foreach (bool training in new[] { true, false })
        {
            dense.train(training);
            converted.train(training);
            var expected = dense.forward(new AttentionInput(x, padding)).Output;
            var actual = converted.forward(new AttentionInput(x, padding));
            Assert.True(expected.eq(actual.Output).all().item<bool>(), $"training={training}: outputs must be identical");
            Assert.True(actual.Gates.eq(1).all().item<bool>());
        }
    }

    [Fact]
    public void Every_weight_is_copied_not_shared()
    {
        using var scope = NewDisposeScope();
        var dense = TrainedDense();
        var converted = MoHConversion.FromDense(dense, sharedHeads: 2, topK: 2);
        var source = dense.state_dict();
        var copy = converted.state_dict();
        Assert.Equal(source.Keys.Order(), copy.Keys.Order());
        foreach (var (name, tensor) in source) Assert.True(tensor.eq(copy[name]).all().item<bool>(), name);

        using (no_grad()) source["qkv.weight"].add_(1);
        Assert.False(source["qkv.weight"].eq(copy["qkv.weight"]).all().item<bool>(), "the converted layer must own its weights");
    }

    [Fact]
    public void Conversion_keeps_training_mode_and_rejects_non_dense_layers()
    {
        using var scope = NewDisposeScope();
        var dense = TrainedDense();
        dense.eval();
        Assert.False(MoHConversion.FromDense(dense, 2, 2).training);

        var routed = new MoHAttention(new MoHAttentionOptions { Dim = 48, Heads = 6, SharedHeads = 2, RoutedTopK = 2, Routing = HeadRouting.Learned });
        Assert.Equal("dense", Assert.Throws<ArgumentException>(() => MoHConversion.FromDense(routed, 2, 2)).ParamName);
        Assert.Equal("RoutedTopK", Assert.Throws<ArgumentException>(() => MoHConversion.FromDense(dense, 2, 5)).ParamName);
    }

    [Fact]
    public void Equal_query_norms_give_no_nan()
    {
        // The official code divides by the std of the routed query norms; all-equal norms make it 0/0. We clamp the std.
        using var scope = NewDisposeScope();
        var dense = TrainedDense();
        using (no_grad())
        {
            var qkv = (ExportableLinear)dense.qkv;
            qkv.weight[..48].zero_();                                  // every query is the bias alone ...
            qkv.bias![..48].copy_(ones(48));                            // ... and every head's query has the same norm
        }
        var converted = MoHConversion.FromDense(dense, sharedHeads: 2, topK: 2);
        converted.train();
        var x = randn(2, 7, 48, requires_grad: true);
        var output = converted.forward(new AttentionInput(x));
        Assert.False(output.Output.isnan().any().item<bool>());
        Assert.True(output.Gates[.., .., 2..].sum(-1).eq(2).all().item<bool>(), "still exactly K routed heads per token");
        var objective = output.Output.sum() + 0.01 * output.BalanceLoss!;
        objective.backward();
        Assert.False(x.grad!.isnan().any().item<bool>());
        foreach (var p in converted.parameters()) Assert.False(p.grad!.isnan().any().item<bool>());
    }
}
