using System.Globalization;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary>The child app the kill tests start and kill, built once for the test class.</summary>
public sealed class KillTargetApp : IDisposable
{
    /// <summary>
    /// <c>save PATH</c>: saves two different models over PATH in turn with <c>SaveAtomically</c>, forever, after printing
    /// "ready" once PATH holds the first. <c>train FOLDER</c>: fits a tiny MoH-ViT for 1000 epochs with checkpoints every
    /// 2 steps in FOLDER, printing "step N" after each step.
    /// </summary>
    private const string Program = """
        using Microsoft.ML;
        using Microsoft.ML.Data;
        using Microsoft.ML.MixtureHeads;
        using Microsoft.ML.MixtureHeads.Models;
        using Microsoft.ML.MixtureHeads.Training;
        var ml = new MLContext(seed: 1);
        if (args[0] == "save")
        {
            var input = ml.Data.LoadFromEnumerable(new[] { new KeyRow { Key = "7" } });
            // A lookup of 50,000 entries, so that each save takes a while; the two models map "7" to 7 and to 8.
            ITransformer Lookup(int offset) => ml.Transforms.Conversion.MapValue("Value",
                Enumerable.Range(0, 50_000).Select(i => new KeyValuePair<string, int>(i.ToString(), i + offset)), "Key").Fit(input);
            var models = new[] { Lookup(0), Lookup(1) };
            ml.Model.SaveAtomically(models[0], input.Schema, args[1]);
            Console.WriteLine("ready");
            for (int i = 1; ; i++) ml.Model.SaveAtomically(models[i % 2], input.Schema, args[1]);
        }
        var random = new Random(5);
        var rows = Enumerable.Range(0, 64).Select(i => new PixelRow { Label = $"c{i % 4}", Pixels = Enumerable.Range(0, 64).Select(_ => random.NextSingle()).ToArray() }).ToList();
        var options = new Microsoft.ML.MixtureHeads.Estimators.MoHImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", Epochs = 1000, BatchSize = 8, Seed = 3, Threads = 1, CheckpointDirectory = args[1], CheckpointEverySteps = 2, LogEverySteps = 1,
            Model = new VisionTransformerConfig { ImageSize = 8, PatchSize = 4, Stem = ImageStem.Patch, Dim = 16, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2 },
            MetricsCallback = m => { if (m.Phase == TrainingPhase.Step) Console.WriteLine($"step {m.Step}"); },
        };
        ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHImageClassifier(options)).Fit(ml.Data.LoadFromEnumerable(rows));
        class KeyRow { public string Key { get; set; } = ""; }
        class PixelRow { public string Label { get; set; } = ""; [VectorType(1, 8, 8)] public float[] Pixels { get; set; } = []; }
        """;

    private readonly ChildProject _project = ChildProject.Create("kill-target", Program, PackageVersions.Pinned("TorchSharp-cpu"),
        ["Microsoft.ML.MixtureHeads/Microsoft.ML.MixtureHeads.csproj"]);

    /// <summary>Starts the app with <paramref name="arguments"/>.</summary>
    internal KilledProcess Start(params string[] arguments) =>
        new(Path.Combine(_project.Directory, "bin", DotnetProcess.Configuration, "net10.0", "kill-target.dll"), arguments);

    public void Dispose() => _project.Dispose();
}

/// <summary>
/// <c>kill -9</c> while a model or a checkpoint is being written, 10 times each, in a child process: the model at the
/// path is always a whole model (the old one or the new one), and training killed at any moment resumes from a
/// checkpoint at most one interval old.
/// </summary>
public sealed class KillDuringWriteTests(KillTargetApp app) : IClassFixture<KillTargetApp>, IDisposable
{
    private const int Kills = 10;
    private readonly string _folder = Directory.CreateTempSubdirectory("mixtureheads-kill-").FullName;
    private readonly Random _random = new(17);

    [Fact]
    public void A_model_saved_atomically_survives_kill_9_during_the_save_over_it()
    {
        string path = Path.Combine(_folder, "model.zip");
        var ml = new MLContext();
        for (int kill = 0; kill < Kills; kill++)
        {
            using (var child = app.Start("save", path))
            {
                child.WaitForLine("ready");
                Thread.Sleep(_random.Next(50, 400));
                child.Kill();
            }
            var model = ml.Model.Load(path, out var schema);
            var value = ml.Data.CreateEnumerable<ValueRow>(model.Transform(ml.Data.LoadFromEnumerable(new[] { new KeyRow { Key = "7" } })), reuseRowObject: false).Single();
            Assert.Contains(value.Value, new[] { 7, 8 });
        }
        // Each kill that landed inside a save left its temporary file: proof that the kills hit saves under way.
        Assert.NotEmpty(Directory.GetFiles(_folder, "*.partial"));
    }

    [Fact]
    public void Training_killed_by_kill_9_resumes_from_a_checkpoint_at_most_one_interval_old()
    {
        const int interval = 2;
        int checkpointed = 0;
        for (int kill = 0; kill < Kills; kill++)
        {
            int lastStep;
            using (var child = app.Start("train", _folder))
            {
                int firstStep = StepOf(child.WaitForLine("step "));
                Assert.Equal(checkpointed + 1, firstStep);   // resumed right after the newest checkpoint
                Thread.Sleep(_random.Next(0, 800));
                child.Kill();
                lastStep = child.Lines.Where(l => l.StartsWith("step ", StringComparison.Ordinal)).Select(StepOf).Max();
            }
            checkpointed = NewestCheckpointStep();
            Assert.True(checkpointed >= lastStep - lastStep % interval, $"kill {kill}: step {lastStep} was reported, the newest checkpoint is of step {checkpointed}");
        }
    }

    /// <summary>The step of the newest checkpoint in the folder (read whole), or 0 when there is none yet.</summary>
    private int NewestCheckpointStep()
    {
        string? newest = Directory.GetFiles(_folder, "checkpoint-*.mohckpt").Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is null) return 0;
        var (header, tensors) = TrainingCheckpointFile.Read(newest);
        foreach (var t in tensors.Values) t.Dispose();
        return header.Step;
    }

    private static int StepOf(string line) => int.Parse(line["step ".Length..], CultureInfo.InvariantCulture);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class KeyRow { public string Key { get; set; } = ""; }

    private sealed class ValueRow { public int Value { get; set; } }
}
