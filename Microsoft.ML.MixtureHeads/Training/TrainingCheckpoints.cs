using System.Globalization;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Where the loop resumes: the position and early-stopping count a checkpoint recorded.</summary>
internal readonly record struct ResumePoint(int Step, int Epoch, int BatchesDone, bool EpochComplete, int EpochsWithoutImprovement);

/// <summary>
/// The loop's checkpoints in <c>CheckpointDirectory</c>: everything a run needs to go on exactly as if it had not
/// stopped (weights, AdamW moments and step counts, the best weights so far, the loop's and libtorch's random generator
/// states, the step, epoch and batch within it, the epoch reports). Each is written atomically; the newest two are kept,
/// so a process killed at any moment loses at most the steps since the last checkpoint.
/// </summary>
internal sealed class TrainingCheckpoints(string directory, int everySteps, CheckpointRun run, IChannel? channel)
{
    private const string Prefix = "checkpoint-";
    private const string Extension = ".mohckpt";
    private const int Kept = 2;

    /// <summary>The checkpoints of this run, or null when the options name no folder (the folder is created).</summary>
    public static TrainingCheckpoints? For(LoopSettings settings, int stepsPerEpoch)
    {
        var options = settings.Options;
        if (string.IsNullOrWhiteSpace(options.CheckpointDirectory)) return null;
        if (options.CheckpointEverySteps < 1)
            throw new ArgumentOutOfRangeException(nameof(options.CheckpointEverySteps), $"CheckpointEverySteps must be at least 1, got {options.CheckpointEverySteps}.");
        Directory.CreateDirectory(options.CheckpointDirectory);
        // A process killed while writing a checkpoint leaves its temporary file; the checkpoint before it is whole.
        foreach (string partial in Directory.EnumerateFiles(options.CheckpointDirectory, $".{Prefix}*{AtomicFile.TemporarySuffix}")) File.Delete(partial);
        return new TrainingCheckpoints(options.CheckpointDirectory, options.CheckpointEverySteps,
            new CheckpointRun(stepsPerEpoch, options.Epochs, settings.Seed, options.BatchSize), settings.Channel);
    }

    /// <summary>Whether a checkpoint is due after <paramref name="step"/> steps.</summary>
    public bool DueAfter(int step) => step % everySteps == 0;

    /// <summary>The checkpoint files in the folder, newest first.</summary>
    public IReadOnlyList<string> Files() =>
        Directory.EnumerateFiles(directory, Prefix + "*" + Extension).OrderByDescending(Path.GetFileName, StringComparer.Ordinal).ToList();

    /// <summary>Writes a checkpoint of the loop's whole state at <paramref name="position"/>, then drops all but the newest few.</summary>
    public void Save(ResumePoint position, nn.Module model, AdamWOptimizer optimizer, BestWeights best, Generator generator, IReadOnlyList<TrainingMetrics> reports)
    {
        using var scope = NewDisposeScope();
        var tensors = new List<(string, Tensor)>();
        tensors.AddRange(model.state_dict().Select(kv => ("model." + kv.Key, kv.Value)));
        var slots = optimizer.Slots;
        for (int i = 0; i < slots.Count; i++)
        {
            tensors.Add(($"adamw.{i}.m", slots[i].Average));
            tensors.Add(($"adamw.{i}.v", slots[i].SquaredAverage));
        }
        if (best.State is { } kept) tensors.AddRange(kept.Select(kv => ("best." + kv.Key, kv.Value)));
        tensors.Add(("rng.loop", generator.get_state()));
        tensors.Add(("rng.torch", torch.random.get_rng_state()));

        var header = new TrainingCheckpointHeader(position.Step, position.Epoch, position.BatchesDone, position.EpochComplete,
            position.EpochsWithoutImprovement, best.Epoch, best.Result?.Loss, best.Result?.Accuracy, run, reports, slots.Select(s => s.Steps).ToArray());
        TrainingCheckpointFile.Write(Path.Combine(directory, FileName(position.Step, position.EpochComplete)), header, tensors);
        foreach (string old in Files().Skip(Kept)) File.Delete(old);
    }

    /// <summary>
    /// Loads the newest readable checkpoint into the model, optimizer, best weights and generators and returns where to
    /// resume; null when the folder holds none. A damaged file (which an atomic write cannot leave, but a disk can) is
    /// skipped with a warning.
    /// </summary>
    /// <exception cref="InvalidOperationException">The checkpoint belongs to another run (data size, epochs, seed, batch size or model differ).</exception>
    public ResumePoint? Restore(nn.Module model, AdamWOptimizer optimizer, BestWeights best, Generator generator, List<TrainingMetrics> reports)
    {
        foreach (string file in Files())
        {
            TrainingCheckpointHeader header;
            Dictionary<string, Tensor> tensors;
            try
            {
                (header, tensors) = TrainingCheckpointFile.Read(file);
            }
            catch (InvalidDataException e)
            {
                channel?.Warning(MessageSensitivity.None, $"{e.Message} Trying an older checkpoint.");
                continue;
            }
            try
            {
                if (header.Run != run)
                    throw new InvalidOperationException($"Checkpoint '{file}' is of another run ({header.Run}); this run is {run}. " +
                        "Use another CheckpointDirectory, or delete its files to start afresh.");
                Load(file, header, tensors, model, optimizer, best, generator);
                reports.AddRange(header.EpochReports);
                channel?.Info(MessageSensitivity.None, $"Resuming from checkpoint '{file}': step {header.Step}, epoch {header.Epoch}.");
                return new ResumePoint(header.Step, header.Epoch, header.BatchesDone, header.EpochComplete, header.EpochsWithoutImprovement);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
        }
        return null;
    }

    private static void Load(string file, TrainingCheckpointHeader header, Dictionary<string, Tensor> tensors, nn.Module model,
        AdamWOptimizer optimizer, BestWeights best, Generator generator)
    {
        Tensor Take(string name, Tensor like)
        {
            if (!tensors.TryGetValue(name, out var value))
                throw new InvalidOperationException($"Checkpoint '{file}' has no '{name}': it was written for another model.");
            if (!value.shape.SequenceEqual(like.shape) || value.dtype != like.dtype)
                throw new InvalidOperationException($"Checkpoint '{file}': '{name}' is {value.dtype} [{string.Join(", ", value.shape)}]; " +
                    $"this model's is {like.dtype} [{string.Join(", ", like.shape)}]. It was written for another model.");
            return value;
        }

        var slots = optimizer.Slots;
        if (header.OptimizerSteps.Count != slots.Count)
            throw new InvalidOperationException($"Checkpoint '{file}' has optimizer state for {header.OptimizerSteps.Count} parameters; this model has {slots.Count}.");
        using (no_grad())
        {
            foreach (var (name, value) in model.state_dict()) value.copy_(Take("model." + name, value));
            for (int i = 0; i < slots.Count; i++)
            {
                slots[i].Average.copy_(Take($"adamw.{i}.m", slots[i].Average));
                slots[i].SquaredAverage.copy_(Take($"adamw.{i}.v", slots[i].SquaredAverage));
                slots[i].Steps = header.OptimizerSteps[i];
            }
        }
        if (header.BestEpoch > 0)
        {
            var kept = model.state_dict().ToDictionary(kv => kv.Key, kv => Take("best." + kv.Key, kv.Value).clone());
            best.Adopt(header.BestEpoch, new ValidationResult(header.BestLoss ?? double.NaN, header.BestAccuracy), kept);
        }
        generator.set_state(Required("rng.loop"));
        torch.random.set_rng_state(Required("rng.torch"));

        Tensor Required(string name) =>
            tensors.TryGetValue(name, out var value) ? value : throw new InvalidOperationException($"Checkpoint '{file}' has no '{name}'.");
    }

    // An epoch-end checkpoint ("b") sorts after a step checkpoint ("a") of the same step: it holds the epoch's bookkeeping too.
    private static string FileName(int step, bool epochComplete) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{step:D9}{(epochComplete ? "b" : "a")}{Extension}");
}
