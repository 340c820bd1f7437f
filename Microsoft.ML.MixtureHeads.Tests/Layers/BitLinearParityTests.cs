using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>BitLinear (b1.58) and RMSNorm against the PyTorch reference, including exact .5 rounding ties.</summary>
public sealed class BitLinearParityTests
{
    /// <summary>mean|W| = 0.5 exactly, so W * (1 / 0.5) lands on .5 for +-0.25, +-0.75 and +-1.25.</summary>
    private static Tensor TiedWeights() => tensor(new float[]
    {
        0.25f, -0.25f, 0.75f, -0.75f, 0.5f, -0.5f, 0.25f, 0.75f,
        -0.25f, 1.25f, -0.75f, 0.5f, 0.25f, -0.5f, 0.25f, -0.25f,
        0.75f, 0.75f, -0.25f, -0.25f, 0.5f, 0.5f, 0.25f, -0.75f,
        -1.25f, 0.25f, 0.5f, -0.25f, 0.75f, -0.5f, 0.25f, -0.25f,
    }).reshape(4, 8);

    /// <summary>max|x| = 127/64 per row, so x * 127 / max|x| = 64 x lands on .5 for x = (n + 0.5) / 64.</summary>
    private static Tensor TiedActivations() => tensor(new float[]
    {
        127f, 2.5f, 3.5f, -0.5f, -1.5f, 100.5f, 0.5f, -126.5f,
        -127f, 1.5f, -2.5f, 0.5f, 64.5f, -64.5f, 9f, 0.25f,
        50.5f, -127f, 4.5f, -5.5f, 6.5f, 7.5f, -8.5f, 1f,
    }).reshape(3, 8) / 64f;

    [Fact]
    public void Quantisers_round_half_to_even()
    {
        using var scope = NewDisposeScope();
        // W / mean|W| = 2W: 0.5 -> 0, 1.5 -> 2 -> clamped 1, 2.5 -> 2 -> 1; scaled back by 0.5.
        var w = BitLinear.QuantizeWeights(TiedWeights());
        Assert.Equal(new float[] { 0, 0, 0.5f, -0.5f, 0.5f, -0.5f, 0, 0.5f }, w[0].data<float>().ToArray());
        // 64 x: 2.5 -> 2, 3.5 -> 4, -0.5 -> -0, -1.5 -> -2, 100.5 -> 100, 0.5 -> 0, -126.5 -> -126.
        var x = BitLinear.QuantizeActivations(TiedActivations()) * 64;
        Assert.Equal(new float[] { 127, 2, 4, 0, -2, 100, 0, -126 }, x[0].data<float>().ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BitLinear_matches_reference(bool innerNorm)
    {
        using var scope = NewDisposeScope();
        var cases = new List<(BitLinear Layer, Dictionary<string, Tensor> Inputs)>();
        for (int seed = 0; seed < 3; seed++)
        {
            manual_seed(60 + seed);
            bool tied = seed == 0;
            var layer = new BitLinear(8, tied ? 4 : 6, innerNorm);
            if (tied) using (no_grad()) layer.weight.copy_(TiedWeights());
            if (innerNorm) using (no_grad()) layer.norm!.weight.copy_(rand(8) + 0.5);
            var inputs = LayerParity.Parameters(layer);
            inputs["x"] = tied ? TiedActivations() : randn(2, 5, 8) * 3;
            inputs["grad_y"] = randn(inputs["x"].shape[..^1].Append(layer.weight.shape[0]).ToArray());
            cases.Add((layer, inputs));
        }
        var reference = PythonReference.Run(cases.Select(c => new ReferenceCase("bitlinear", new Dictionary<string, object> { ["eps"] = 1e-6 }, c.Inputs)).ToList());
        for (int i = 0; i < cases.Count; i++)
        {
            var (layer, inputs) = cases[i];
            var x = LayerParity.Leaf(inputs["x"]);
            var y = layer.forward(x);
            (y * inputs["grad_y"]).sum().backward();
            var ours = LayerParity.ParameterGradients(layer);
            ours["y"] = y;
            ours["grad/x"] = x.grad!;
            LayerParity.AssertMatches($"bitlinear#{i}", reference[i], ours, Tolerance.Reduction);
            using (no_grad())
            {
                var normed = layer.norm?.forward(inputs["x"]) ?? inputs["x"];
                ParityAssert.Close($"bitlinear#{i} weight_q", reference[i]["weight_q"], BitLinear.QuantizeWeights(layer.weight), Tolerance.Fp32);
                ParityAssert.Close($"bitlinear#{i} x_q", reference[i]["x_q"], BitLinear.QuantizeActivations(normed), Tolerance.Fp32);
            }
        }
    }

    [Fact]
    public void Straight_through_gradients_use_the_quantised_operands()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var layer = new BitLinear(8, 4);
        var x = LayerParity.Leaf(randn(5, 8));
        var g = randn(5, 4);
        (layer.forward(x) * g).sum().backward();
        using var noGrad = no_grad();
        // dL/dx = g W_q and dL/dW = g^T x_q (spec section 4: the STE passes the gradient through round/clamp unchanged).
        ParityAssert.Close("dL/dx", g.mm(BitLinear.QuantizeWeights(layer.weight)), x.grad!, Tolerance.Reduction);
        ParityAssert.Close("dL/dW", g.t().mm(BitLinear.QuantizeActivations(x)), layer.weight.grad!, Tolerance.Reduction);
    }

    [Fact]
    public void RMSNorm_matches_reference()
    {
        using var scope = NewDisposeScope();
        var cases = new (long[] Shape, double Eps)[] { ([4, 12], 1e-6), ([2, 3, 8], 1e-5), ([1, 32], 1e-6) }.Select((c, seed) =>
        {
            manual_seed(70 + seed);
            var norm = new RMSNorm(c.Shape[^1], c.Eps);
            using (no_grad()) norm.weight.copy_(randn(c.Shape[^1]));
            var inputs = LayerParity.Parameters(norm);
            inputs["x"] = randn(c.Shape) * 2 + 0.3;
            inputs["grad_y"] = randn(c.Shape);
            return (Norm: norm, c.Eps, Inputs: inputs);
        }).ToList();
        var reference = PythonReference.Run(cases.Select(c => new ReferenceCase("rmsnorm_module", new Dictionary<string, object> { ["eps"] = c.Eps }, c.Inputs)).ToList());
        for (int i = 0; i < cases.Count; i++)
        {
            var x = LayerParity.Leaf(cases[i].Inputs["x"]);
            var y = cases[i].Norm.forward(x);
            (y * cases[i].Inputs["grad_y"]).sum().backward();
            var ours = LayerParity.ParameterGradients(cases[i].Norm);
            ours["y"] = y;
            ours["grad/x"] = x.grad!;
            LayerParity.AssertMatches($"rmsnorm#{i}", reference[i], ours, Tolerance.Reduction);
        }
    }
}
