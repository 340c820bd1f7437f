using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>Our layers' <c>EmitOnnx</c>, run in ONNX Runtime, against their TorchSharp forward.</summary>
public sealed class OnnxLayerEmitTests
{
    [Fact]
    public void RMSNorm_emit_matches_forward()
    {
        using var scope = NewDisposeScope();
        manual_seed(24);
        var norm = new RMSNorm(8, eps: 1e-5);
        nn.init.normal_(norm.weight);
        var x = randn(3, 5, 8) * 4;
        var check = new OnnxParity();
        check.Expect("y", norm.EmitOnnx(check.Graph, check.Input("x", x), "blocks.0.norm1"), norm.forward(x));
        check.Check();
        Assert.NotNull(check.Graph.ToModel().FindInitializer("blocks.0.norm1.weight"));
    }

    [Fact]
    public void BitLinear_emit_matches_forward_on_inputs_that_hit_rounding_ties()
    {
        using var scope = NewDisposeScope();
        manual_seed(25);
        var layer = new BitLinear(8, 5);
        // Row 0 has max|x| = 127, so x * 127 / max|x| = x: its .5 entries are exact ties, which half-to-even
        // and half-away-from-zero round differently. The other rows are ordinary.
        var ties = tensor(new[] { 127f, 0.5f, 1.5f, 2.5f, -2.5f, -0.5f, 3.5f, -126.5f }).view(1, 8);
        var x = cat([ties, randn(4, 8) * 3], 0).view(1, 5, 8);
        var xScaled = x * (127.0 / x.abs().amax([-1], keepdim: true));
        var halfAwayFromZero = xScaled.sign() * (xScaled.abs() + 0.5).floor();
        Assert.False(halfAwayFromZero.equal(xScaled.round()).all().item<bool>(), "the input must contain rounding ties");

        var check = new OnnxParity();
        check.Expect("y", layer.EmitOnnx(check.Graph, check.Input("x", x), "blocks.0.ffn.experts.0.fc1"), layer.forward(x));
        check.Check();

        var model = check.Graph.ToModel();
        Assert.Equal(layer.weight.data<float>().ToArray(), model.FindInitializer("blocks.0.ffn.experts.0.fc1.weight")!.ToFloats());
        Assert.Equal(OnnxElementType.Int8, model.FindInitializer("blocks.0.ffn.experts.0.fc1.weight_ternary")!.ElementType);
    }

    [Fact]
    public void BitLinear_with_inner_norm_emit_matches_forward()
    {
        using var scope = NewDisposeScope();
        manual_seed(26);
        var layer = new BitLinear(6, 4, innerNorm: true);
        nn.init.normal_(layer.norm!.weight);
        var x = randn(2, 3, 6) * 2;
        var check = new OnnxParity();
        check.Expect("y", layer.EmitOnnx(check.Graph, check.Input("x", x), "fc"), layer.forward(x));
        check.Check();
        Assert.NotNull(check.Graph.ToModel().FindInitializer("fc.norm.weight"));
    }
}
