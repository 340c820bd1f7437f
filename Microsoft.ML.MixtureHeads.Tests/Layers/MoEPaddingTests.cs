using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// MH-MoE with a key-padding mask: padding tokens are not routed, take no expert capacity and do not enter the
/// balance loss, so a row scores the same however it is padded - dropless or with a capacity factor.
/// </summary>
public sealed class MoEPaddingTests
{
    private const long Dim = 12, Real = 5, Padded = 12;

    public static TheoryData<string> Cases() => new(["dropless", "capacity 1", "capacity 0.5"]);

    private static MultiHeadMoEOptions Options(string name) => new MultiHeadMoEOptions { Dim = Dim, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 10 } with
    {
        CapacityFactor = name switch { "capacity 1" => 1.0, "capacity 0.5" => 0.5, _ => null },
    };

    /// <summary>A layer and one row of <see cref="Real"/> tokens, the same row padded to <see cref="Padded"/> with
    /// other (random) values, and its mask.</summary>
    private static (MultiHeadMoE Layer, Tensor Row, Tensor PaddedRow, Tensor Mask) Setup(string name, int seed)
    {
        var (layer, x) = MoECases.Create(Options(name), [1, Padded, Dim], seed);
        var row = x.narrow(1, 0, Real);
        var mask = arange(Padded).lt(Real).unsqueeze(0);                                   // [1, 12]
        return (layer, row, x, mask);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_padded_row_scores_exactly_like_the_row_unpadded(string name)
    {
        using var scope = NewDisposeScope();
        var (layer, row, padded, mask) = Setup(name, seed: 900);
        layer.eval();
        using var noGrad = no_grad();
        var alone = layer.forward(row).Output;                                             // [1, 5, d]
        var withPadding = layer.forward(padded, mask).Output;                               // [1, 12, d]
        ParityAssert.Close($"{name}: real tokens", alone, withPadding.narrow(1, 0, Real), Tolerance.Fp32);
        Assert.Equal(0, withPadding.narrow(1, Real, Padded - Real).abs().max().item<float>());
        // Without the mask the padding tokens would be routed too: with a capacity they crowd out real ones.
        if (name != "dropless")
            Assert.False(layer.forward(padded).Output.narrow(1, 0, Real).allclose(alone, atol: 1e-6), "the unmasked padding should change the real tokens here");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Padding_does_not_enter_the_balance_loss(string name)
    {
        using var scope = NewDisposeScope();
        var (layer, row, padded, mask) = Setup(name, seed: 910);
        layer.train();
        var alone = layer.forward(row).BalanceLoss!;
        var withPadding = layer.forward(padded, mask).BalanceLoss!;
        ParityAssert.Close($"{name}: balance loss", alone, withPadding, Tolerance.Fp32);
    }

    [Fact]
    public void Dropless_rows_do_not_depend_on_their_batch_mates()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = MoECases.Create(Options("dropless"), [2, Padded, Dim], seed: 920);
        layer.eval();
        using var noGrad = no_grad();
        var mask = stack([arange(Padded).lt(Real), ones(Padded, ScalarType.Bool)]);          // a short row next to a long one
        var batched = layer.forward(x, mask).Output;
        ParityAssert.Close("short row", layer.forward(x[0].narrow(0, 0, Real).unsqueeze(0)).Output, batched[0].narrow(0, 0, Real).unsqueeze(0), Tolerance.Fp32);
        ParityAssert.Close("long row", layer.forward(x[1].unsqueeze(0)).Output, batched[1].unsqueeze(0), Tolerance.Fp32);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Onnx_runtime_leaves_padding_out_like_the_forward(string name)
    {
        using var scope = NewDisposeScope();
        var (layer, x) = MoECases.Create(Options(name), [3, Padded, Dim], seed: 930);
        layer.eval();
        var mask = stack([arange(Padded).lt(Real), ones(Padded, ScalarType.Bool), arange(Padded).lt(2)]);
        using var noGrad = no_grad();
        var check = new OnnxParity();
        var output = layer.EmitOnnx(check.Graph, new OnnxSequenceInput(check.Input("x", x), check.Input("mask", mask)), "moe");
        check.Expect("y", output, layer.forward(x, mask).Output);
        check.Check();
    }

    [Fact]
    public void A_mask_of_the_wrong_shape_or_type_is_a_typed_error()
    {
        using var scope = NewDisposeScope();
        var (layer, _, padded, mask) = Setup("dropless", seed: 940);
        Assert.Contains("key-padding mask", Assert.Throws<ArgumentException>(() => layer.forward(padded, mask.to(ScalarType.Int64))).Message);
        Assert.Contains("[1, 12]", Assert.Throws<ArgumentException>(() => layer.forward(padded, ones(1, 11, ScalarType.Bool))).Message);
    }
}
