using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>The parameter-free emitters (activations, attention) against the TorchSharp forward.</summary>
public sealed class OnnxModulesTests
{
    [Fact]
    public void Gelu_and_silu_match_forward()
    {
        using var scope = NewDisposeScope();
        manual_seed(19);
        var x = randn(3, 4, 6) * 3;
        var check = new OnnxParity();
        var input = check.Input("x", x);
        check.Expect("gelu", check.Graph.Gelu(input), F.gelu(x));
        check.Expect("silu", check.Graph.Silu(input), F.silu(x));
        check.Check();
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Masked_attention_matches_scaled_dot_product_attention(bool causal, bool keyPadding)
    {
        using var scope = NewDisposeScope();
        manual_seed(21);
        var (q, k, v) = (randn(2, 3, 5, 4), randn(2, 3, 5, 4), randn(2, 3, 5, 4));
        var keep = ones(2, 5, dtype: ScalarType.Bool);
        keep[1, TensorIndex.Slice(3)] = tensor(false);                      // sequence 1 has two padding keys
        var lowerTriangle = ones(5, 5, dtype: ScalarType.Bool).tril();

        Tensor expected = (causal, keyPadding) switch
        {
            (false, false) => F.scaled_dot_product_attention(q, k, v),
            (true, false) => F.scaled_dot_product_attention(q, k, v, is_casual: true),
            (false, true) => F.scaled_dot_product_attention(q, k, v, keep.view(2, 1, 1, 5)),
            _ => F.scaled_dot_product_attention(q, k, v, keep.view(2, 1, 1, 5).logical_and(lowerTriangle)),
        };
        var check = new OnnxParity();
        var mask = keyPadding ? check.Input("keep", keep) : null;
        var y = check.Graph.ScaledDotProductAttention(check.Input("q", q), check.Input("k", k), check.Input("v", v), headDim: 4, mask, causal);
        check.Expect("y", y, expected);
        check.Check();
    }

    [Fact]
    public void A_query_that_sees_no_key_gets_zeros_like_sdpa()
    {
        using var scope = NewDisposeScope();
        manual_seed(23);
        var (q, k, v) = (randn(2, 2, 4, 8), randn(2, 2, 4, 8), randn(2, 2, 4, 8));
        var keep = ones(2, 4, dtype: ScalarType.Bool);
        keep[0] = tensor(false);                                            // sequence 0 is all padding
        var expected = F.scaled_dot_product_attention(q, k, v, keep.view(2, 1, 1, 4));
        Assert.Equal(0, expected[0].abs().max().item<float>());
        var check = new OnnxParity();
        var y = check.Graph.ScaledDotProductAttention(
            check.Input("q", q), check.Input("k", k), check.Input("v", v), headDim: 8, check.Input("keep", keep));
        check.Expect("y", y, expected);
        check.Check();
    }

    [Fact]
    public void Causal_attention_with_fewer_queries_than_keys_is_top_left_aligned_like_sdpa()
    {
        using var scope = NewDisposeScope();
        manual_seed(22);
        var (q, k, v) = (randn(1, 2, 3, 8), randn(1, 2, 6, 8), randn(1, 2, 6, 8));
        var check = new OnnxParity();
        var y = check.Graph.ScaledDotProductAttention(check.Input("q", q), check.Input("k", k), check.Input("v", v), headDim: 8, causal: true);
        check.Expect("y", y, F.scaled_dot_product_attention(q, k, v, is_casual: true));
        check.Check();
    }
}
