using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Training;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary>
/// <c>CheckpointDirectory</c>: a run stopped at any step and started again with the same options ends with the weights
/// of the run that was never stopped (weights, AdamW state, schedule, data order, dropout and augmentation draws, best
/// weights), and a checkpoint of another run is refused.
/// </summary>
public sealed class CheckpointResumeTests : IDisposable
{
    private sealed class Options : TrainerOptionsBase;

    private const int Seed = 11;
    private readonly string _folder = Directory.CreateTempSubdirectory("mixtureheads-checkpoints-").FullName;
    private readonly float[][] _pixels;
    private readonly long[] _labels;

    public CheckpointResumeTests()
    {
        var random = new Random(3);
        _pixels = Enumerable.Range(0, 80).Select(_ => Enumerable.Range(0, 64).Select(_ => random.NextSingle()).ToArray()).ToArray();
        _labels = Enumerable.Range(0, 80).Select(i => (long)(i % 10)).ToArray();
    }

    /// <summary>8x8 images in 4 patches; 1 shared + top-2 of 3 routed heads; attention dropout, so that resuming must restore libtorch's generator.</summary>
    private static readonly VisionTransformerConfig Tiny = new()
    {
        ImageSize = 8, PatchSize = 4, Stem = ImageStem.Patch, Dim = 16, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2,
        AttentionDropout = 0.2,
    };

    /// <summary>Trains 3 epochs of 8 steps (80 random images, batches of 10), checkpointing every 3 steps into <paramref name="folder"/>, and cancels after
    /// <paramref name="stopAfterStep"/> when set. Returns the final weights (CPU copies), the summary and the first step trained.</summary>
    private (Dictionary<string, Tensor> Weights, TrainingSummary Summary, int? FirstStep) Train(string? folder, int? stopAfterStep, int seed = Seed)
    {
        using var cancel = new CancellationTokenSource();
        int? firstStep = null;
        var options = new Options
        {
            Epochs = 3, BatchSize = 10, LearningRate = 3e-3, WarmupEpochs = 0.5, LogEverySteps = 1, EarlyStoppingPatience = 5,
            CheckpointDirectory = folder, CheckpointEverySteps = 3, CancellationToken = cancel.Token,
            MetricsCallback = m =>
            {
                if (m.Phase == TrainingPhase.Step) firstStep ??= m.Step;
                if (m.Step == stopAfterStep) cancel.Cancel();
            },
        };
        manual_seed(1);
        using var network = new MoHVisionTransformer(Tiny);
        // Noise from the loop's generator, so that resuming must restore its state too.
        var objective = new ClassificationObjective(network, Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray(), labelSmoothing: 0.1,
            (x, g) => x.Plus(randn(x.shape, generator: g).mul(Scalars.Of(0.1))), "Score", "Index");
        var train = InMemoryBatches.Classification(_pixels, _labels, [1, 8, 8], batchSize: 10, shuffle: true, seed: seed);
        var validation = InMemoryBatches.Classification(_pixels[..30], _labels[..30], [1, 8, 8], batchSize: 10, shuffle: false);
        var summary = TrainingLoop.Run(objective, train, validation, new LoopSettings(options, seed, CPU));
        return (network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone()), summary, firstStep);
    }

    [Fact]
    public void A_run_stopped_twice_and_resumed_from_its_checkpoints_ends_as_the_uninterrupted_run()
    {
        var (expected, whole, _) = Train(folder: null, stopAfterStep: null);

        var first = Train(_folder, stopAfterStep: 5);      // checkpoint at step 3
        var second = Train(_folder, stopAfterStep: 14);    // resumes mid-epoch 1; checkpoints 6, 8 (epoch end), 9, 12
        var (resumed, summary, resumedAt) = Train(_folder, stopAfterStep: null);   // resumes mid-epoch 2

        Assert.True(first.Summary.Cancelled && second.Summary.Cancelled);
        Assert.Equal(4, second.FirstStep);
        Assert.Equal(13, resumedAt);
        Assert.False(summary.Cancelled);
        Assert.Equal(whole.BestEpoch, summary.BestEpoch);
        Assert.Equal(whole.Epochs.Select(e => e.ValidationLoss), summary.Epochs.Select(e => e.ValidationLoss));
        foreach (var (name, value) in expected)
            Assert.True(value.allclose(resumed[name], rtol: 1e-5, atol: 1e-6), $"{name} differs after resuming");
    }

    [Fact]
    public void A_checkpoint_of_another_run_is_refused_naming_the_file()
    {
        Train(_folder, stopAfterStep: 3);

        var error = Assert.Throws<InvalidOperationException>(() => Train(_folder, stopAfterStep: null, seed: Seed + 1));

        Assert.Contains(_folder, error.Message);
        Assert.Contains("another run", error.Message);
    }

    [Fact]
    public void A_damaged_newest_checkpoint_is_skipped_for_the_one_before()
    {
        Train(_folder, stopAfterStep: 7);   // checkpoints at steps 3 and 6
        var files = Directory.GetFiles(_folder).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, files.Length);
        File.WriteAllBytes(files[1], File.ReadAllBytes(files[1])[..1000]);

        var (_, summary, firstStep) = Train(_folder, stopAfterStep: 4);

        Assert.Equal(4, firstStep);   // resumed from step 3, not 6
        Assert.True(summary.Cancelled);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
