using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>The emitters for TorchSharp's own modules and the attention emitter against the TorchSharp forward.</summary>
public sealed class OnnxModulesTests
{
    [Fact]
    public void Linear_matches_forward_and_stores_the_torchsharp_tensors()
    {
        using var scope = NewDisposeScope();
        manual_seed(17);
        var withBias = nn.Linear(6, 4);
        var withoutBias = nn.Linear(4, 3, hasBias: false);
        var x = randn(2, 5, 6);
        var check = new OnnxParity();
        var g = check.Graph;
        var hidden = g.Linear(withBias, check.Input("x", x), "proj");
        check.Expect("y", g.Linear(withoutBias, hidden, "head"), withoutBias.forward(withBias.forward(x)));
        check.Check();

        var model = g.ToModel();
        Assert.Equal(["proj.weight", "proj.bias", "head.weight"], model.Initializers.Where(i => !i.Name.Contains('/')).Select(i => i.Name));
        Assert.Equal(withBias.weight.data<float>().ToArray(), model.FindInitializer("proj.weight")!.ToFloats());
        Assert.Equal([4L, 6L], model.FindInitializer("proj.weight")!.Dims);
    }

    [Fact]
    public void Symbolic_batch_dimension_runs_at_batch_1_and_7()
    {
        using var scope = NewDisposeScope();
        manual_seed(18);
        var linear = nn.Linear(4, 3);
        var g = new OnnxGraphBuilder();
        var logits = g.Linear(linear, g.Input("Features", OnnxElementType.Float, "batch", 4), "linear");
        g.Output(g.Softmax(logits), "Score", OnnxElementType.Float, "batch", 3);
        using var session = new OnnxSession(g.ToBytes());
        foreach (long batch in new[] { 1L, 7L })
        {
            var x = randn(batch, 4);
            var score = session.Run(("Features", x))["Score"];
            ParityAssert.Close($"batch {batch}", linear.forward(x).softmax(-1), score, Tolerance.Fp32);
        }
        Assert.Equal("Features: Float[batch, 4]", g.ToModel().Inputs.Single().ToString());
    }

    [Fact]
    public void LayerNorm_embedding_gelu_silu_match_forward()
    {
        using var scope = NewDisposeScope();
        manual_seed(19);
        var embedding = nn.Embedding(10, 6);
        var affine = nn.LayerNorm(6);
        var plain = nn.LayerNorm([6], eps: 1e-3, elementwise_affine: false);
        var noBias = nn.LayerNorm([6], bias: false);
        nn.init.normal_(affine.weight);
        nn.init.normal_(affine.bias!);
        var ids = randint(0, 10, [3, 4]);
        var check = new OnnxParity();
        var g = check.Graph;
        var e = g.Embedding(embedding, check.Input("ids", ids), "embed");
        var embedded = embedding.forward(ids);
        check.Expect("embedding", e, embedded);
        check.Expect("layer_norm", g.LayerNorm(affine, e, "norm"), affine.forward(embedded));
        check.Expect("layer_norm_plain", g.LayerNorm(plain, e, "plain"), plain.forward(embedded));
        check.Expect("layer_norm_no_bias", g.LayerNorm(noBias, e, "no_bias"), noBias.forward(embedded));
        var wide = embedded * 3;
        var iwide = g.Mul(e, g.Scalar(3f));
        check.Expect("gelu", g.Gelu(iwide), F.gelu(wide));
        check.Expect("silu", g.Silu(iwide), F.silu(wide));
        check.Check();
    }

    [Theory]
    [InlineData(3, 1, 1, 1, 1)]      // explicit padding
    [InlineData(4, 2, 0, 1, 2)]      // stride 2, groups
    [InlineData(3, 1, -1, 2, 1)]     // "same", dilation 2
    [InlineData(4, 1, -1, 1, 1)]     // "same" with an even kernel: the odd pad goes at the end
    [InlineData(3, 1, -2, 1, 1)]     // "valid"
    public void Conv2d_matches_forward(long kernel, long stride, long padding, long dilation, long groups)
    {
        using var scope = NewDisposeScope();
        manual_seed(20);
        var conv = padding switch
        {
            -1 => nn.Conv2d(4, 6, kernel, Padding.Same, stride, dilation, groups: groups),
            -2 => nn.Conv2d(4, 6, kernel, Padding.Valid, stride, dilation, groups: groups),
            _ => nn.Conv2d(4, 6, kernel, stride, padding, dilation, groups: groups),
        };
        var x = randn(2, 4, 9, 10);
        var check = new OnnxParity();
        check.Expect("y", check.Graph.Conv2d(conv, check.Input("x", x), "patch_embed"), conv.forward(x));
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
