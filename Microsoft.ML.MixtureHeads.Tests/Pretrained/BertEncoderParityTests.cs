using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>
/// The BERT-compatible encoder, dense and converted to MoH, on a tiny random config: forward, balance loss and every
/// gradient against the independent PyTorch reference (reference/bert_cases.py), and its ONNX export against its
/// eval forward.
/// </summary>
public sealed class BertEncoderParityTests
{
    private static BertEncoderConfig Tiny(HeadRouting routing) => new()
    {
        Dim = 32, Depth = 2, Heads = 4, MlpRatio = 2, VocabularySize = 40, MaxPositions = 16, MaxLength = 12, Classes = 3,
        Routing = routing,
        SharedHeads = routing == HeadRouting.Dense ? 0 : 1,
        RoutedTopK = routing == HeadRouting.Dense ? 0 : 2,
    };

    /// <summary>An encoder with spread-out weights (so routing is decisive) and ids with padding in two of three rows.</summary>
    private static (BertEncoder Encoder, Tensor Ids) Generate(HeadRouting routing, int seed)
    {
        manual_seed(seed);
        var encoder = new BertEncoder(Tiny(routing));
        foreach (var block in encoder.blocks) MoHTestData.Randomise(block.attn);
        using (no_grad())
            foreach (var (name, parameter) in encoder.named_parameters().Where(p => p.name.Contains("norm", StringComparison.Ordinal)))
                parameter.normal_(name.EndsWith("weight", StringComparison.Ordinal) ? 1 : 0, 0.1);
        var ids = randint(1, 40, [3, 9], dtype: ScalarType.Int64);
        using (no_grad())
        {
            ids[0, TensorIndex.Slice(6)] = tensor(0L);
            ids[2, TensorIndex.Slice(3)] = tensor(0L);
        }
        return (encoder, ids);
    }

    [Theory]
    [InlineData(HeadRouting.Dense, "dense")]
    [InlineData(HeadRouting.ParameterFree, "parameter_free")]
    [InlineData(HeadRouting.Learned, "learned")]
    public void Forward_balance_loss_and_every_gradient_match_the_reference(HeadRouting routing, string referenceRouting)
    {
        using var scope = NewDisposeScope();
        var (encoder, ids) = Generate(routing, seed: 90);
        var gradY = randn(3, 3);
        var config = encoder.Config;
        var settings = new Dictionary<string, object>
        {
            ["heads"] = config.Heads, ["shared"] = config.AttentionOptions.SharedHeads, ["topk"] = config.AttentionOptions.RoutedTopK,
            ["head_dim"] = config.Dim / config.Heads, ["routing"] = referenceRouting, ["depth"] = config.Depth, ["eps"] = config.NormEps,
            ["training"] = true, ["causal"] = false,
        };
        var inputs = new Dictionary<string, Tensor> { ["ids"] = ids, ["grad_y"] = gradY };
        foreach (var (name, parameter) in encoder.named_parameters()) inputs[name] = parameter.detach();
        var expected = PythonReference.Run(new ReferenceCase("bert_classifier", settings, inputs));

        encoder.train();
        var output = encoder.forward(ids);
        var objective = (output.Output * gradY).sum();
        if (output.BalanceLoss is { } balance) objective = objective + balance * 0.01;
        objective.backward();
        using var noGrad = no_grad();
        var ours = new Dictionary<string, Tensor>(LayerParity.ParameterGradients(encoder))
        {
            ["y"] = output.Output,
            ["hidden"] = encoder.Encode(ids, ids.ne(0L)).Hidden,
        };
        if (output.BalanceLoss is { } loss) ours["balance_loss"] = loss;
        Assert.Equal(expected.Keys.Order(), ours.Keys.Order());
        foreach (var (name, value) in ours)
            ParityAssert.Close($"{routing} BERT encoder: {name}", expected[name], value, name.StartsWith("grad/", StringComparison.Ordinal) ? Tolerance.Layer : Tolerance.Reduction);
    }

    [Theory]
    [InlineData(HeadRouting.Dense)]
    [InlineData(HeadRouting.ParameterFree)]
    [InlineData(HeadRouting.Learned)]
    public void Onnx_runtime_equals_the_eval_forward(HeadRouting routing)
    {
        using var scope = NewDisposeScope();
        var (encoder, ids) = Generate(routing, seed: 91);
        encoder.eval();
        using var noGrad = no_grad();
        var graph = new OnnxGraphBuilder();
        graph.Output(encoder.EmitOnnx(graph, "ids"), "logits", OnnxElementType.Float, "batch", "classes");
        var outputs = OnnxSession.Run(graph.ToBytes(), ("ids", ids));
        ParityAssert.Close($"{routing} BERT encoder in ONNX Runtime", encoder.forward(ids).Output, outputs["logits"], Tolerance.Reduction);
    }

    [Fact]
    public void Wrong_ids_are_a_typed_error_naming_the_shape()
    {
        using var scope = NewDisposeScope();
        using var encoder = new BertEncoder(Tiny(HeadRouting.ParameterFree));
        Assert.Contains("[2, 3, 4]", Assert.Throws<ArgumentException>(() => encoder.forward(zeros(2, 3, 4, dtype: ScalarType.Int64))).Message);
        Assert.Contains("Float32", Assert.Throws<ArgumentException>(() => encoder.forward(zeros(2, 3))).Message);
        Assert.Contains("position table has 16", Assert.Throws<ArgumentException>(() => encoder.Encode(ones(1, 17, dtype: ScalarType.Int64), ones(1, 17, dtype: ScalarType.Bool))).Message);
        Assert.Contains("MaxLength", Assert.Throws<ArgumentException>(() => new BertEncoder(Tiny(HeadRouting.Dense) with { MaxLength = 17 })).Message);
    }
}
