using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>The shared training loop on real Fashion-MNIST pixels with a tiny MoH-ViT and the classification objective.</summary>
public sealed class TrainingLoopTests
{
    private sealed class Options : TrainerOptionsBase;

    private static (float[][] Pixels, long[] Labels) Images(int count)
    {
        var data = FashionMnistData.Read(FashionMnistSplit.Train).Take(count);
        var pixels = Enumerable.Range(0, count).Select(i => data.Pixels(i).ToArray().Select(p => (float)p).ToArray()).ToArray();
        return (pixels, Enumerable.Range(0, count).Select(i => (long)data.Label(i)).ToArray());
    }

    private static IBatchSource<ClassificationBatch> Batches(float[][] pixels, long[] labels, bool shuffle) =>
        InMemoryBatches.Classification(pixels, labels, [1, 28, 28], batchSize: 50, shuffle);

    private static ClassificationObjective Objective(MoHVisionTransformer network) =>
        new(network, FashionMnistData.ClassNames, labelSmoothing: 0.1, augment: null, "Score", "Index");

    private static Options Recipe(int epochs) => new() { Epochs = epochs, BatchSize = 50, LearningRate = 3e-3, WarmupEpochs = 0.2, LogEverySteps = 1000 };

    [Fact]
    public void Early_stopping_restores_the_best_epochs_weights()
    {
        // Validation labels are the training labels shifted by one class: the better the model learns the training
        // labels, the worse it scores on validation, so later epochs are worse and early stopping must go back.
        var (pixels, labels) = Images(400);
        var validation = Batches(pixels, labels.Select(l => (l + 1) % 10).ToArray(), shuffle: false);
        var reports = new List<TrainingMetrics>();
        var options = Recipe(epochs: 8);
        options.EarlyStoppingPatience = 2;
        options.MetricsCallback = reports.Add;
        manual_seed(1);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);
        var objective = Objective(network);

        var summary = TrainingLoop.Run(objective, Batches(pixels, labels, shuffle: true), validation, new LoopSettings(options, 3, CPU));

        var epochs = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();
        int best = epochs.MaxBy(e => (e.ValidationAccuracy, -e.ValidationLoss!.Value))!.Epoch;
        Assert.Equal(best, summary.BestEpoch);
        Assert.True(summary.StoppedEarly, $"ran all {epochs.Count} epochs");
        Assert.True(epochs.Count < 8);
        var restored = TrainingLoop.Evaluate(objective, validation, CPU);
        Assert.Equal(epochs[best - 1].ValidationAccuracy!.Value, restored.Accuracy!.Value, 10);
        Assert.Equal(epochs[best - 1].ValidationLoss!.Value, restored.Loss, 4);
        Assert.NotEqual(epochs[^1].ValidationLoss!.Value, restored.Loss, 4);
    }

    [Fact]
    public void Live_tensor_count_does_not_grow_from_epoch_to_epoch()
    {
        var (pixels, labels) = Images(300);
        var counts = new List<long>();
        var options = Recipe(epochs: 4);
        options.MetricsCallback = m => { if (m.Phase == TrainingPhase.EpochEnd) counts.Add(LiveTensors()); };
        manual_seed(2);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);

        TrainingLoop.Run(Objective(network), Batches(pixels, labels, shuffle: true), Batches(pixels, labels, shuffle: false), new LoopSettings(options, 4, CPU));

        Assert.Equal(4, counts.Count);
        Assert.Equal(counts[1], counts[2]);
        Assert.Equal(counts[2], counts[3]);
    }

    /// <summary>
    /// Tensors still alive once the garbage is gone: TorchSharp's count also drops when a finalizer frees a tensor some
    /// earlier test dropped, which would otherwise make two equal counts differ.
    /// </summary>
    internal static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Tensor.TotalCount;
    }

    [Fact]
    public void A_non_finite_loss_stops_training_with_a_clear_error_before_any_weight_changes()
    {
        var (pixels, labels) = Images(100);
        foreach (var image in pixels) image[5 * 28 + 5] = float.NaN; // every image, so the very first step sees it
        manual_seed(3);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var error = Assert.Throws<InvalidOperationException>(() =>
            TrainingLoop.Run(Objective(network), Batches(pixels, labels, shuffle: true), null, new LoopSettings(Recipe(1), 5, CPU)));

        Assert.Contains("diverged", error.Message);
        foreach (var (name, value) in network.state_dict()) Assert.True(value.equal(before[name]).all().item<bool>(), name);
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_follows_a_cosine_to_the_floor()
    {
        var schedule = new LearningRateSchedule(Peak: 1e-3, WarmupSteps: 10, TotalSteps: 110, MinRatio: 0.1);
        Assert.Equal(1e-4, schedule.At(0), 12);
        Assert.Equal(1e-3, schedule.At(9), 12);
        Assert.Equal(1e-3, schedule.At(10), 12);
        Assert.Equal(0.55e-3, schedule.At(60), 12);   // halfway through the decay: (peak + floor) / 2
        Assert.Equal(1e-4, schedule.At(110), 12);
        Assert.True(Enumerable.Range(10, 100).All(s => schedule.At(s + 1) <= schedule.At(s)));
    }
}
