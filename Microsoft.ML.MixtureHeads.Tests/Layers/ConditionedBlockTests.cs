using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// A transformer block conditioned adaLN-Zero style (DiT): parity of forward, balance loss and every gradient with
/// the PyTorch reference (reference/block_cases.py, conditioned_block), the identity at initialisation, ONNX parity,
/// and clear errors when the condition is missing or unexpected.
/// </summary>
public sealed class ConditionedBlockTests
{
    private const int Dim = 32, ConditionDim = 16;

    private static TransformerBlockOptions Options => new()
    {
        Attention = new MoHAttentionOptions { Dim = Dim, Heads = 4, SharedHeads = 2, RoutedTopK = 1, Routing = HeadRouting.Learned },
        FeedForward = new FeedForwardOptions { Kind = FeedForwardKind.GeluMlp, Hidden = 64 },
        ConditionDim = ConditionDim,
    };

    /// <summary>A block with random modulation (so it is not the identity), an input and a condition whose routing has no near-tie.</summary>
    private static (TransformerBlock Block, Tensor X, Tensor Condition) Generate(int seed)
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            manual_seed(seed + 7919 * attempt);
            var block = new TransformerBlock(Options);
            MoHTestData.Randomise(block.attn);
            using (no_grad())
            {
                block.adaLN_modulation!.Linear.weight.normal_(0, 0.3);
                block.adaLN_modulation.Linear.bias!.normal_(0, 0.3);
            }
            var (x, c) = (randn(2, 9, Dim), randn(2, ConditionDim));
            using var noGrad = no_grad();
            var m = block.adaLN_modulation.forward(c).chunk(6, 1);
            var h = block.norm1.forward(x) * (m[1].unsqueeze(1) + 1) + m[0].unsqueeze(1);
            if (MoHTestData.TopKGap(block.attn, h) > MoHTestData.MinimumTopKGap) return (block, x, c);
        }
        throw new InvalidOperationException("No tie-free routing found.");
    }

    [Fact]
    public void Forward_balance_loss_and_every_gradient_match_the_reference()
    {
        using var scope = NewDisposeScope();
        var (block, x, condition) = Generate(seed: 70);
        var gradY = randn(2, 9, Dim);
        var o = block.attn.Options;
        var settings = new Dictionary<string, object>
        {
            ["heads"] = o.Heads, ["shared"] = o.SharedHeads, ["topk"] = o.RoutedTopK, ["head_dim"] = o.ResolvedHeadDim,
            ["routing"] = "learned", ["causal"] = false, ["training"] = true,
        };
        var inputs = new Dictionary<string, Tensor> { ["x"] = x, ["c"] = condition, ["grad_y"] = gradY };
        foreach (var (name, parameter) in block.named_parameters()) inputs[name] = parameter.detach();
        var expected = PythonReference.Run(new ReferenceCase("conditioned_block", settings, inputs));

        block.train();
        var (input, c) = (LayerParity.Leaf(x), LayerParity.Leaf(condition));
        var output = block.forward(new AttentionInput(input), c);
        var objective = (output.X * gradY).sum() + output.AttentionBalanceLoss! * 0.01;
        objective.backward();
        var ours = new Dictionary<string, Tensor>(LayerParity.ParameterGradients(block))
        {
            ["y"] = output.X, ["gates"] = output.HeadGates, ["balance_loss"] = output.AttentionBalanceLoss!, ["grad/x"] = input.grad!, ["grad/c"] = c.grad!,
        };
        Assert.Equal(expected.Keys.Order(), ours.Keys.Order());
        foreach (var (name, value) in ours)
            ParityAssert.Close($"conditioned block: {name}", expected[name], value, name.StartsWith("grad/", StringComparison.Ordinal) ? Tolerance.Layer : Tolerance.Reduction);
    }

    [Fact]
    public void A_fresh_block_is_the_identity_whatever_the_condition()
    {
        using var scope = NewDisposeScope();
        manual_seed(71);
        var block = new TransformerBlock(Options);
        var x = randn(2, 5, Dim);
        var y = block.forward(new AttentionInput(x), randn(2, ConditionDim)).X;
        Assert.True(y.equal(x).all().item<bool>(), "adaLN-Zero: zero gates at initialisation");
        Assert.Empty(block.norm1.parameters());   // the modulation replaces the norms' own gain and bias
    }

    [Fact]
    public void Onnx_runtime_equals_the_eval_forward()
    {
        using var scope = NewDisposeScope();
        var (block, x, condition) = Generate(seed: 72);
        block.eval();
        using var noGrad = no_grad();
        var check = new OnnxParity();
        var y = block.EmitOnnx(check.Graph, new OnnxSequenceInput(check.Input("x", x), Condition: check.Input("c", condition)), "blocks.0");
        check.Expect("y", y, block.forward(new AttentionInput(x), condition).X, Tolerance.Reduction);
        check.Check();
    }

    [Fact]
    public void A_missing_unexpected_or_misshapen_condition_is_a_typed_error()
    {
        using var scope = NewDisposeScope();
        var conditioned = new TransformerBlock(Options);
        var plain = new TransformerBlock(Options with { ConditionDim = null });
        var x = randn(2, 5, Dim);
        Assert.Contains("pass a condition", Assert.Throws<ArgumentException>(() => conditioned.forward(new AttentionInput(x))).Message);
        Assert.Contains("[2, 16]", Assert.Throws<ArgumentException>(() => conditioned.forward(new AttentionInput(x), randn(2, 8))).Message);
        Assert.Contains("takes no condition", Assert.Throws<ArgumentException>(() => plain.forward(new AttentionInput(x), randn(2, ConditionDim))).Message);
    }
}
