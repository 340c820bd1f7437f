using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>The shared training loop on real Fashion-MNIST pixels with a tiny MoH-ViT.</summary>
public sealed class TrainingLoopTests
{
    private sealed class Options : TrainerOptionsBase;

    private static TrainingTensors Tensors(int count, Func<int, long>? relabel = null)
    {
        var data = FashionMnistData.Read(FashionMnistSplit.Train).Take(count);
        var pixels = new float[count * 784];
        for (int i = 0; i < count; i++)
            for (int p = 0; p < 784; p++) pixels[i * 784 + p] = data.Pixels(i)[p];
        var labels = Enumerable.Range(0, count).Select(i => relabel?.Invoke(data.Label(i)) ?? data.Label(i)).ToArray();
        return new TrainingTensors(tensor(pixels, [count, 1, 28, 28]), tensor(labels));
    }

    private static Options Recipe(int epochs) => new() { Epochs = epochs, BatchSize = 50, LearningRate = 3e-3, WarmupEpochs = 0.2, LogEverySteps = 1000 };

    [Fact]
    public void Early_stopping_restores_the_best_epochs_weights()
    {
        // Validation labels are the training labels shifted by one class: the better the model learns the training
        // labels, the worse it scores on validation, so later epochs are worse and early stopping must go back.
        var train = Tensors(400);
        var validation = new TrainingTensors(train.Inputs, (train.Labels + 1) % 10);
        var reports = new List<TrainingMetrics>();
        var options = Recipe(epochs: 8);
        options.EarlyStoppingPatience = 2;
        options.MetricsCallback = reports.Add;
        manual_seed(1);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);

        var summary = ClassifierTrainingLoop.Run(network, train, validation, new LoopSettings(options, 3, CPU));

        var epochs = reports.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();
        int best = epochs.MaxBy(e => (e.ValidationAccuracy, -e.ValidationLoss!.Value))!.Epoch;
        Assert.Equal(best, summary.BestEpoch);
        Assert.True(summary.StoppedEarly, $"ran all {epochs.Count} epochs");
        Assert.True(epochs.Count < 8);
        var (loss, accuracy) = ClassifierTrainingLoop.Evaluate(network, validation, 100, CPU);
        Assert.Equal(epochs[best - 1].ValidationAccuracy!.Value, accuracy, 10);
        Assert.Equal(epochs[best - 1].ValidationLoss!.Value, loss, 4);
        Assert.NotEqual(epochs[^1].ValidationLoss!.Value, loss, 4);
    }

    [Fact]
    public void Live_tensor_count_does_not_grow_from_epoch_to_epoch()
    {
        var train = Tensors(300);
        var counts = new List<long>();
        var options = Recipe(epochs: 4);
        options.MetricsCallback = m => { if (m.Phase == TrainingPhase.EpochEnd) counts.Add(LiveTensors()); };
        manual_seed(2);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);

        ClassifierTrainingLoop.Run(network, train, validation: train, new LoopSettings(options, 4, CPU));

        Assert.Equal(4, counts.Count);
        Assert.Equal(counts[1], counts[2]);
        Assert.Equal(counts[2], counts[3]);
    }

    /// <summary>
    /// Tensors still alive once the garbage is gone: TorchSharp's count also drops when a finalizer frees a tensor some
    /// earlier test dropped, which would otherwise make two equal counts differ.
    /// </summary>
    private static long LiveTensors()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return Tensor.TotalCount;
    }

    [Fact]
    public void A_non_finite_loss_stops_training_with_a_clear_error_before_any_weight_changes()
    {
        var train = Tensors(100);
        train.Inputs[TensorIndex.Colon, 0, 5, 5] = float.NaN; // every image, so the very first step sees it
        manual_seed(3);
        using var network = new MoHVisionTransformer(TinyVisionTransformers.MoH);
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var error = Assert.Throws<InvalidOperationException>(() =>
            ClassifierTrainingLoop.Run(network, train, null, new LoopSettings(Recipe(1), 5, CPU)));

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
