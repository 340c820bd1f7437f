using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Tests.Text;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>Every registered text encoder: forward, backward, ONNX export parity (padded batches) and checkpoint round trip.</summary>
public sealed class RegisteredTextEncoderTests
{
    public static TheoryData<string> Names() => new(ModelRegistry.List(configType: typeof(TextEncoderConfig)));

    /// <summary>A network with a vocabulary of 300 tokens, and 3 rows of stage ids of different lengths (0-padded),
    /// some beyond the vocabulary and one longer than the model's max length.</summary>
    private static (MoHTextEncoder Network, Tensor Ids) Build(string name)
    {
        manual_seed(12);
        var config = ModelRegistry.Get<TextEncoderConfig>(name) with { MaxLength = 40 };
        var random = new Random(5);
        long[] Row(int length) => [TextTokenIds.Start, .. Enumerable.Range(0, length - 1).Select(_ => (long)random.Next(3, 400))];
        var vocabulary = CompactVocabulary.Build(Enumerable.Range(0, 50).Select(_ => Row(30)), minCount: 1, maxSize: 300);
        var network = new MoHTextEncoder(config with { VocabularySize = vocabulary.Size, Classes = 3 }, vocabulary);
        var ids = TokenBatch.StageIds([Row(12), Row(55), Row(1)], maxLength: 100);
        return (network, ids);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Forward_and_backward_reach_every_trained_parameter(string name)
    {
        using var scope = NewDisposeScope();
        var (network, ids) = Build(name);
        network.train();
        var output = network.forward(ids);
        Assert.Equal([3L, 3L], output.Output.shape);
        var loss = F.cross_entropy(output.Output, tensor(new long[] { 0, 1, 2 })) + (output.BalanceLoss ?? zeros(1)).sum() * 0.01;
        loss.backward();
        var missing = network.named_parameters().Where(p => p.parameter.grad is null || p.parameter.grad.abs().sum().item<float>() == 0).Select(p => p.name).ToList();
        Assert.All(missing, n => Assert.Contains(".moe.experts.", n)); // with 3 texts an expert may see no token
        network.Dispose();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Onnx_runtime_equals_the_TorchSharp_forward_on_padded_batches_and_single_rows(string name)
    {
        using var scope = NewDisposeScope();
        var (network, ids) = Build(name);
        network.eval();
        using var noGrad = no_grad();
        var expected = softmax(network.forward(ids).Output, 1);
        byte[] onnx = ClassifierExport.Export(network, ["a", "b", "c"], "ids");

        using var session = new OnnxSession(onnx);
        ParityAssert.Close($"{name} batch", expected, session.Run(("ids", ids))["Score"], Tolerance.Reduction);
        for (int row = 0; row < 3; row++)
        {
            var unpadded = ids[row].masked_select(ids[row].ne(0)).unsqueeze(0);   // the row as ML.NET feeds it
            ParityAssert.Close($"{name} row {row}", expected[row].unsqueeze(0), session.Run(("ids", unpadded))["Score"], Tolerance.Reduction);
        }

        using var rebuilt = ClassifierExport.Rebuild(MixtureHeadsCheckpoint.FromOnnx(onnx));
        rebuilt.Module.eval();
        ParityAssert.Close($"{name} rebuilt", expected, softmax(rebuilt.forward(ids).Output, 1), Tolerance.Fp32);
        network.Dispose();
    }

    [Fact]
    public void Bad_token_input_is_a_typed_error()
    {
        using var scope = NewDisposeScope();
        var (network, _) = Build("moh_text_tiny_75");
        Assert.Contains("int64 token ids [B, L]", Assert.Throws<ArgumentException>(() => network.forward(rand(2, 5))).Message);
        Assert.Throws<ArgumentException>(() => network.forward(ones(2, 3, 4, dtype: ScalarType.Int64)));
        network.Dispose();
    }

    [Fact]
    public void BitNet_configuration_really_uses_BitLinear_layers()
    {
        var (network, _) = Build("moh_text_tiny_75_bitnet");
        Assert.Contains(network.modules(), m => m is BitLinear);
        network.Dispose();
    }
}
