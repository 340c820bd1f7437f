using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>How likely a byte-level language model finds one text.</summary>
/// <param name="LogLikelihood">The mean natural-log probability of the scored tokens (nats per token, at most 0).</param>
/// <param name="TokenCount">How many tokens were scored: the text's UTF-8 bytes plus its end, at most the model's MaxLength.</param>
public readonly record struct CausalLMTextScore(double LogLikelihood, int TokenCount)
{
    /// <summary>exp(-<see cref="LogLikelihood"/>): the model's perplexity on the text (1 = certain).</summary>
    public double Perplexity => Math.Exp(-LogLikelihood);
}

/// <summary>
/// The novelty score of a text under a byte-level <see cref="MoHCausalLM"/> (<see cref="ByteTokenizer"/> ids), in
/// TorchSharp and as ONNX nodes - the two side by side so they cannot drift apart. A text of n UTF-8 bytes is read as
/// pretraining packs it, <c>[EOT] b1 ... bn [EOT]</c>, and the model predicts every token after the first: n + 1
/// predictions, the last being that the text ends there. Only the first MaxLength predictions are scored (a longer text
/// is cut). <c>LogLikelihood</c> is the mean ln p of those predictions; an empty text is one prediction, p(EOT | EOT), so
/// every text has a finite score.
/// </summary>
public static class CausalLMLikelihood
{
    /// <summary>Scores <paramref name="text"/> (null reads as empty) with <paramref name="model"/> in eval mode, on the model's device.</summary>
    /// <exception cref="ArgumentException">The model's vocabulary is smaller than the byte tokenizer's.</exception>
    public static CausalLMTextScore Score(MoHCausalLM model, string? text)
    {
        ArgumentNullException.ThrowIfNull(model);
        RequireByteVocabulary(model.Config);
        var bytes = System.Text.Encoding.UTF8.GetBytes(text ?? "");
        long[] sequence = [ByteTokenizer.EndOfText, .. bytes.Select(b => (long)b), ByteTokenizer.EndOfText];
        int scored = Math.Min(sequence.Length - 1, model.Config.MaxLength);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var tokens = tensor(sequence.AsSpan(0, scored + 1).ToArray(), device: model.tok_embeddings.weight.device).unsqueeze(0);   // [1, m + 1]
            var logits = model.call(tokens.narrow(1, 0, scored)).Output;                                                           // [1, m, V]
            var picked = F.log_softmax(logits, -1).gather(2, tokens.narrow(1, 1, scored).unsqueeze(2));                            // [1, m, 1]
            return new CausalLMTextScore(picked.mean().item<float>(), scored);
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// Emits the score of each row of <paramref name="stageIds"/> [batch, sequence] (int64), the ids of the scoring
    /// package's <c>ByteTokenization</c> stage (end of text + 1, then each byte + 1; rows unpadded). The model must be in
    /// eval mode. Returns the log-likelihood and the token count, each [batch] (float).
    /// </summary>
    internal static (string LogLikelihood, string TokenCount) EmitOnnx(MoHCausalLM model, OnnxGraphBuilder g, string stageIds)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(g);
        RequireByteVocabulary(model.Config);
        string ids = g.Sub(stageIds, g.Scalar(1L));                                                           // [B, n + 1]: EOT, bytes
        string end = g.ConstantOfShape(g.Concat(0, g.Shape(ids, 0, 1), g.Vector(1)), ByteTokenizer.EndOfText); // [B, 1]
        string sequence = g.Slice(g.Concat(1, ids, end), starts: [0], ends: [model.Config.MaxLength + 1L], axes: [1]);  // [B, m + 1]
        string inputs = g.Slice(sequence, starts: [0], ends: [-1], axes: [1]);                                // [B, m]
        string targets = g.Slice(sequence, starts: [1], ends: [long.MaxValue], axes: [1]);                    // [B, m]
        string logits = model.EmitLogitsOnnx(g, inputs);                                                      // [B, m, V]
        string logProbabilities = g.Node("LogSoftmax", [logits], 1, OnnxAttribute.Int("axis", -1))[0];        // [B, m, V]
        string picked = g.GatherElements(logProbabilities, g.Unsqueeze(targets, 2), axis: 2);                 // [B, m, 1]
        string logLikelihood = g.ReduceMean(picked, [1, 2], keepDims: false);                                 // [B]
        string count = g.ReduceSum(g.ConstantOfShape(g.Shape(picked), 1f), [1, 2], keepDims: false);          // [B]
        return (logLikelihood, count);
    }

    private static void RequireByteVocabulary(CausalLMConfig config)
    {
        if (config.VocabularySize < ByteTokenizer.VocabularySize)
            throw new ArgumentException(
                $"Scoring text reads bytes, which needs a vocabulary of at least {ByteTokenizer.VocabularySize} ids; the model has {config.VocabularySize}.", nameof(config));
    }
}
