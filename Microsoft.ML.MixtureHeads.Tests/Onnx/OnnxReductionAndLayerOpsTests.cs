using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Reductions, softmax, products, convolution and layer normalisation against TorchSharp.</summary>
public sealed class OnnxReductionAndLayerOpsTests
{
    [Fact]
    public void Reductions_and_softmax_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        var x = randn(3, 4, 5);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x);
        check.Expect("sum_last", g.ReduceSum(ix, [-1]), x.sum([-1], keepdim: true));
        check.Expect("sum_two", g.ReduceSum(ix, [0, 2], keepDims: false), x.sum([0, 2]));
        check.Expect("sum_all", g.ReduceSum(ix, [], keepDims: false), x.sum());
        check.Expect("mean_last", g.ReduceMean(ix, [-1]), x.mean([-1], keepdim: true));
        check.Expect("mean_all", g.ReduceMean(ix, [], keepDims: false), x.mean());
        check.Expect("max_middle", g.ReduceMax(ix, [1], keepDims: false), x.amax([1]));
        check.Expect("softmax_last", g.Softmax(ix), x.softmax(-1));
        check.Expect("softmax_middle", g.Softmax(ix, axis: 1), x.softmax(1));
        check.Check();
    }

    [Fact]
    public void Products_match_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(14);
        var a = randn(2, 3, 4, 5);
        var b = randn(2, 3, 5, 6);
        var m = randn(4, 5);
        var w = randn(7, 5);
        var c = randn(7);
        var check = new OnnxParity();
        var g = check.Graph;
        string ia = check.Input("a", a), ib = check.Input("b", b), im = check.Input("m", m), iw = check.Input("w", w), ic = check.Input("c", c);
        check.Expect("matmul", g.MatMul(ia, ib), einsum("bhij,bhjk->bhik", a, b));
        check.Expect("gemm", g.Gemm(im, iw, ic, alpha: 0.5f, beta: 2f, transB: true), addmm(c, m, w.t(), beta: 2f, alpha: 0.5f));
        check.Expect("einsum", g.Einsum("bhij,bhkj->bhik", ia, ia), einsum("bhij,bhkj->bhik", a, a));
        check.Check();
    }

    [Fact]
    public void Conv_matches_torch_with_strides_pads_dilation_groups()
    {
        using var scope = NewDisposeScope();
        manual_seed(15);
        var x = randn(2, 4, 9, 8);
        var weight = randn(6, 2, 3, 3);
        var bias = randn(6);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), iw = check.Input("w", weight), ibias = check.Input("bias", bias);
        check.Expect("conv", g.Conv(ix, iw, ibias, kernelShape: [3, 3], strides: [2, 1], pads: [1, 2, 1, 2], dilations: [1, 2], group: 2),
            F.conv2d(x, weight, bias, strides: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2));
        check.Check();
    }

    [Fact]
    public void LayerNormalization_matches_torch()
    {
        using var scope = NewDisposeScope();
        manual_seed(16);
        var x = randn(3, 4, 6) * 2 + 1;
        var scale = randn(6);
        var shift = randn(6);
        var plane = randn(4, 6);
        var check = new OnnxParity();
        var g = check.Graph;
        string ix = check.Input("x", x), iscale = check.Input("scale", scale), ishift = check.Input("shift", shift), iplane = check.Input("plane", plane);
        check.Expect("last_dim", g.LayerNormalization(ix, iscale, ishift, epsilon: 1e-5f), F.layer_norm(x, [6], scale, shift, 1e-5));
        check.Expect("two_dims", g.LayerNormalization(ix, iplane, null, axis: -2, epsilon: 1e-3f), F.layer_norm(x, [4, 6], plane, null, 1e-3));
        check.Check();
    }
}
