using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using Microsoft.ML.MixtureHeads.Tests.Persistence;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>The classifier started from a byte-level LM: it copies the LM's encoder weights, pads correctly, and rejects
/// an LM that is not byte-level.</summary>
public sealed class LMTextClassifierTests
{
    internal static MoHCausalLM ByteLM(int seed)
    {
        manual_seed(seed);
        var model = new MoHCausalLM(CausalLMCheckpointInteropTests.Cases["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"] with { VocabularySize = 257, MaxLength = 64 });
        CausalLMCheckpointInteropTests.Spread(model);
        return model;
    }

    [Fact]
    public void The_classifier_starts_from_the_LMs_embeddings_blocks_and_norm_and_a_new_head()
    {
        using var scope = NewDisposeScope();
        using var lm = ByteLM(1);
        using var classifier = LMTextClassifier.FromLanguageModel(lm, classes: 3, maxLength: 32);
        var source = lm.state_dict();
        var names = classifier.state_dict().Keys.Where(k => !k.StartsWith("head.", StringComparison.Ordinal)).ToList();
        Assert.Equal(source.Keys.Order(), names.Order());
        foreach (string name in names) ParityAssert.Equal(name, source[name], classifier.state_dict()[name]);
        Assert.Equal([3L, 48], classifier.head.weight.shape);
        Assert.Equal(32, classifier.Config.MaxLength);
    }

    [Fact]
    public void A_padded_batch_scores_each_text_as_it_scores_alone()
    {
        using var scope = NewDisposeScope();
        using var lm = ByteLM(2);
        using var classifier = LMTextClassifier.FromLanguageModel(lm, classes: 2);
        classifier.eval();
        string[] texts = ["The jury said", "It was a dark and stormy night, and the rain fell in torrents.", ""];
        var rows = texts.Select(ByteTokenization.Encode).ToList();
        int width = rows.Max(r => r.Length);
        var batch = stack(rows.Select(r => tensor(r.Concat(Enumerable.Repeat(0L, width - r.Length)).ToArray())).ToArray());
        using var noGrad = no_grad();
        var together = classifier.forward(batch).Output;
        for (int i = 0; i < texts.Length; i++)
            ParityAssert.Close($"text {i}", classifier.forward(tensor(rows[i]).unsqueeze(0)).Output[0], together[i], Tolerance.Reduction);
    }

    [Fact]
    public void Only_a_byte_level_LM_can_start_a_classifier()
    {
        using var scope = NewDisposeScope();
        using var lm = new MoHCausalLM(CausalLMTests.Tiny);   // 50 ids
        var error = Assert.Throws<ArgumentException>(() => LMTextClassifier.FromLanguageModel(lm, classes: 2));
        Assert.Contains("VocabularySize must be 257", error.Message);
    }
}
