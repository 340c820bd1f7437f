using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// Options of <see cref="CausalLMTraining.Train(MoHCausalLM, IReadOnlyList{long}, IReadOnlyList{long}?, CausalLMTrainingOptions)"/>: the shared loop's recipe (epochs, batch size, AdamW, warmup +
/// cosine schedule, balance-loss weight, clipping, early stopping, time budget, cancellation, checkpoints, metrics
/// callback) plus the window length. Validation data comes as a token stream, so <c>ValidationSet</c> and
/// <c>ValidationFraction</c> are not read.
/// </summary>
public sealed class CausalLMTrainingOptions : TrainerOptionsBase
{
    /// <summary>Tokens the model reads per window (it predicts each one's successor). Default 128; at most the model's MaxLength.</summary>
    public int SequenceLength = 128;
}

/// <summary>How next-token training ended, with the validation perplexity after each epoch.</summary>
/// <param name="Summary">The loop's summary (epoch reports, best epoch, early stop, cancellation, time budget).</param>
/// <param name="ValidationPerplexities">exp(validation loss) per epoch, in order; empty without validation tokens.</param>
public sealed record CausalLMTrainingResult(TrainingSummary Summary, IReadOnlyList<double> ValidationPerplexities);

/// <summary>Next-token training and perplexity of a <see cref="MoHCausalLM"/> on token streams (documents joined by an end-of-text id).</summary>
public static class CausalLMTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> in place on windows of <paramref name="trainTokens"/> (shuffled per epoch), with
    /// the mean next-token cross-entropy plus the weighted balance loss; when <paramref name="validationTokens"/> are given,
    /// each epoch ends with a validation pass whose perplexity the result lists.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid or a stream is shorter than one window.</exception>
    public static CausalLMTrainingResult Train(MoHCausalLM model, IReadOnlyList<long> trainTokens, IReadOnlyList<long>? validationTokens, CausalLMTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainTokens);
        ArgumentNullException.ThrowIfNull(options);
        using var threads = LibTorchThreads.Use(options.Threads);
        return Train(model, trainTokens, validationTokens, options.SequenceLength, new LoopSettings(options, options.Seed ?? 0, TrainingDevice.Resolve(options.Device)));
    }

    /// <summary>The training of <see cref="Train(MoHCausalLM, IReadOnlyList{long}, IReadOnlyList{long}?, CausalLMTrainingOptions)"/> with
    /// the loop's settings given (an estimator's seed, device, log channel and cancellation); threads are the caller's.</summary>
    internal static CausalLMTrainingResult Train(MoHCausalLM model, IReadOnlyList<long> trainTokens, IReadOnlyList<long>? validationTokens, int sequenceLength, LoopSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainTokens);
        var options = settings.Options;
        CheckLength(model, sequenceLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        var train = new PackedSequences(trainTokens, sequenceLength, options.BatchSize, shuffle: true, settings.Seed);
        var validation = validationTokens is null ? null : new PackedSequences(validationTokens, sequenceLength, options.BatchSize, shuffle: false);
        var summary = TrainingLoop.Run(new LanguageModelObjective(model), train, validation, settings);
        var perplexities = summary.Epochs.Where(e => e.ValidationLoss is not null).Select(e => LanguageModelObjective.Perplexity(e.ValidationLoss!.Value)).ToList();
        return new CausalLMTrainingResult(summary, perplexities);
    }

    /// <summary>The perplexity of <paramref name="model"/> on <paramref name="tokens"/>: exp of the mean cross-entropy of every token after the first of each window.</summary>
    /// <exception cref="ArgumentException">The stream is shorter than one window, or the window is longer than the model's MaxLength.</exception>
    public static double Perplexity(MoHCausalLM model, IReadOnlyList<long> tokens, int sequenceLength, int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckLength(model, sequenceLength);
        var windows = new PackedSequences(tokens, sequenceLength, batchSize, shuffle: false);
        var device = model.tok_embeddings.weight.device;
        return LanguageModelObjective.Perplexity(TrainingLoop.Evaluate(new LanguageModelObjective(model), windows, device).Loss);
    }

    private static void CheckLength(MoHCausalLM model, int sequenceLength)
    {
        if (sequenceLength < 1 || sequenceLength > model.Config.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, $"The sequence length must be between 1 and the model's MaxLength {model.Config.MaxLength}.");
    }
}
