using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

/// <summary>SpamAssassin mail bodies as a second language-model corpus: what the reader keeps, and that a byte-level LM learns from it.</summary>
public sealed class SpamAssassinTextTests
{
    private static readonly Lazy<(IReadOnlyList<string> Train, IReadOnlyList<string> Validation)> Bodies = new(() => SpamAssassinText.Read());

    [Fact]
    public void Bodies_are_distinct_non_empty_header_free_texts_split_evenly()
    {
        var (train, validation) = Bodies.Value;
        int total = train.Count + validation.Count;
        Assert.InRange(total, 4500, 6046);   // 6046 mails; empty bodies and duplicates dropped
        Assert.Equal(total / 10, validation.Count);
        Assert.Equal(total, train.Concat(validation).Distinct(StringComparer.Ordinal).Count());
        Assert.All(train.Concat(validation), body =>
        {
            Assert.InRange(body.Length, 1, SpamAssassinText.DefaultMaxCharacters);
            Assert.Equal(body.Trim(), body);
            Assert.False(body.StartsWith("Received:", StringComparison.Ordinal) || body.StartsWith("Return-Path:", StringComparison.Ordinal), body[..Math.Min(80, body.Length)]);
        });
        Assert.Contains(train, body => body.Length > SpamAssassinText.DefaultMaxCharacters - 10);   // long mails are cut
        var (hamTrain, hamValidation) = SpamAssassinText.Read(includeSpam: false, maxCharacters: 500);
        Assert.InRange(hamTrain.Count + hamValidation.Count, 3000, total - 1);
        Assert.All(hamTrain, body => Assert.True(body.Length <= 500));
        Assert.Throws<ArgumentOutOfRangeException>(() => SpamAssassinText.Read(validationFraction: 1));
    }

    [Fact]
    public void A_byte_level_LM_trained_a_few_steps_on_mail_bodies_lowers_their_held_out_perplexity()
    {
        var codec = new ByteTokenizer();
        long[] Stream(IEnumerable<string> texts) => [.. texts.SelectMany(t => codec.Encode(t).Append(ByteTokenizer.EndOfText))];
        var (train, validation) = Bodies.Value;
        long[] trainTokens = [.. Stream(train.Take(200)).Take(40 * 8 * 32 + 1)];
        long[] validationTokens = [.. Stream(validation.Take(40)).Take(4_000)];
        TorchSharp.torch.manual_seed(1);
        using var model = (MoHCausalLM)ModelRegistry.Create(ModelRegistry.Get<CausalLMConfig>("moh_lm_tiny_75") with { VocabularySize = ByteTokenizer.VocabularySize, MaxLength = 32 });
        double before = CausalLMTraining.Perplexity(model, validationTokens, 32);
        var result = CausalLMTraining.Train(model, trainTokens, validationTokens, new CausalLMTrainingOptions
        {
            SequenceLength = 32, BatchSize = 8, Epochs = 1, LearningRate = 3e-3, WarmupEpochs = 0.1, Seed = 1, Device = "cpu",
        });
        double after = Assert.Single(result.ValidationPerplexities);
        Assert.Equal(40, result.Summary.Epochs[0].Step);
        Assert.True(after < before / 4, $"validation perplexity {before:F1} -> {after:F1}");
    }
}
