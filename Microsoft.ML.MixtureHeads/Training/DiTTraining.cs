using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// Options of <see cref="DiTTraining.Train"/>: the shared loop's recipe (epochs, batch size, AdamW, warmup + cosine,
/// balance-loss weight, clipping, validation fraction, early stopping, time budget, cancellation, checkpoints, metrics
/// callback) plus the diffusion settings. <c>ValidationSet</c> is not read (validation is a held-out fraction).
/// </summary>
public sealed class DiTTrainingOptions : TrainerOptionsBase
{
    /// <summary>Creates the options with DiT's choices where they differ from the base defaults: no weight decay.</summary>
    public DiTTrainingOptions()
    {
        WeightDecay = 0;
    }

    /// <summary>Probability that a training label is replaced by the null class, for classifier-free guidance (DiT: 0.1). Default 0.1.</summary>
    public double ClassDropout = 0.1;

    /// <summary>Decay of the EMA weights that sampling uses; warmed up as min(decay, (1 + n) / (10 + n)). Default 0.999.</summary>
    public double EmaDecay = 0.999;

    /// <summary>The noise schedule. Default DDPM's (1,000 steps, beta 1e-4 .. 0.02), as DiT.</summary>
    public DiffusionSchedule Schedule = DiffusionSchedule.Default;
}

/// <summary>How denoiser training ended.</summary>
/// <param name="Summary">The loop's summary; its losses are the MSE of the config's prediction target (validation too, at fixed noise draws).</param>
/// <param name="Ema">The EMA of the trained weights, a new model the caller owns: generate from this one.</param>
public sealed record DiTTrainingResult(TrainingSummary Summary, MoHDiT Ema);

/// <summary>Trains a <see cref="MoHDiT"/> to denoise class-labelled images (velocity or epsilon prediction, DDPM schedule) on the shared loop.</summary>
public static class DiTTraining
{
    /// <summary>
    /// Trains <paramref name="model"/> in place on <paramref name="images"/> (each [C, H, W] row-major, pixels in [0, 1])
    /// with their 0-based <paramref name="labels"/>, and returns the EMA weights alongside the loop's summary.
    /// </summary>
    /// <exception cref="ArgumentException">The data does not fit the model (the message names the row), or an option is invalid.</exception>
    public static DiTTrainingResult Train(MoHDiT model, IReadOnlyList<float[]> images, IReadOnlyList<int> labels, DiTTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Schedule);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Epochs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        if (options.ClassDropout is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), options.ClassDropout, "ClassDropout must be in [0, 1).");
        if (options.EmaDecay is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), options.EmaDecay, "EmaDecay must be in [0, 1).");
        if (options.ValidationFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(options), options.ValidationFraction, "ValidationFraction must be in [0, 1).");
        var rows = CheckData(model.Config, images, labels);

        int seed = options.Seed ?? 0;
        int validationCount = (int)Math.Round(rows.Count * options.ValidationFraction);
        var shuffled = new List<(float[] Pixels, long Label)>(rows);
        new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(shuffled));
        var validationRows = shuffled.Take(validationCount).ToList();
        var trainRows = shuffled.Skip(validationCount).ToList();
        if (trainRows.Count == 0) throw new ArgumentException("No training images are left after the validation fraction.", nameof(images));

        var config = model.Config;
        long[] shape = [config.Channels, config.ImageSize, config.ImageSize];
        ClassificationBatch Collate(IReadOnlyList<(float[] Pixels, long Label)> chunk) =>
            new(Training.HostTensor.Of(chunk.SelectMany(r => r.Pixels).ToArray(), [chunk.Count, .. shape]), chunk.Select(r => r.Label).ToArray());
        IBatchSource<ClassificationBatch> Source(List<(float[], long)> data, bool shuffle) => new BatchSource<(float[] Pixels, long Label), ClassificationBatch>(
            ExampleSource<(float[] Pixels, long Label)>.Create(() => data, data.Count, _ => 0, long.MaxValue, 0, 1), options.BatchSize, shuffle, seed, Collate);

        var networks = new DenoiserWithEma(model);
        var objective = new DenoisingObjective(networks, options.Schedule, options.ClassDropout, options.EmaDecay);
        using var threads = LibTorchThreads.Use(options.Threads);
        var summary = TrainingLoop.Run(objective, Source(trainRows, shuffle: true), validationRows.Count == 0 ? null : Source(validationRows, shuffle: false),
            new LoopSettings(options, seed, TrainingDevice.Resolve(options.Device)));
        return new DiTTrainingResult(summary, networks.ema);
    }

    private static List<(float[] Pixels, long Label)> CheckData(DiTConfig config, IReadOnlyList<float[]> images, IReadOnlyList<int> labels)
    {
        if (images.Count != labels.Count)
            throw new ArgumentException($"{images.Count} images but {labels.Count} labels: give one label per image.", nameof(labels));
        if (images.Count == 0) throw new ArgumentException("No training images.", nameof(images));
        int pixels = config.Channels * config.ImageSize * config.ImageSize;
        var rows = new List<(float[], long)>(images.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var image = images[i] ?? throw new ArgumentException($"Image {i} is null.", nameof(images));
            if (image.Length != pixels)
                throw new ArgumentException($"Image {i} has {image.Length} values; the model reads [{config.Channels}, {config.ImageSize}, {config.ImageSize}] = {pixels}.", nameof(images));
            int bad = Array.FindIndex(image, v => !(v >= 0f && v <= 1f));
            if (bad >= 0) throw new ArgumentException($"Image {i}, value {bad} is {image[bad]}; pixels must be in [0, 1].", nameof(images));
            if (labels[i] < 0 || labels[i] >= config.Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Label {i} is {labels[i]}; the model has classes 0 .. {config.Classes - 1}.");
            rows.Add((image, labels[i]));
        }
        return rows;
    }
}
