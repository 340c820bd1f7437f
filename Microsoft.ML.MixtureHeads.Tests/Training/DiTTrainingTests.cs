using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>
/// Denoiser training on the shared loop, on 320 real Fashion-MNIST images with a tiny MoH-DiT (16 tokens of 7 x 7):
/// the loss on the configured target falls, the EMA weights differ from the trained ones and are what the result hands out for
/// sampling, cancellation and the time budget return a usable model, and bad data is a typed error naming the row.
/// </summary>
public sealed class DiTTrainingTests
{
    private static DiTConfig Tiny => new()
    {
        ImageSize = 28, PatchSize = 7, Dim = 64, Depth = 2, Heads = 4, MlpRatio = 2, FrequencyEmbeddingSize = 64,
        Routing = HeadRouting.Learned, SharedHeads = 2, RoutedTopK = 1,
    };

    private static (List<float[]> Images, List<int> Labels) FashionMnist(int count)
    {
        var data = FashionMnistData.Read(FashionMnistSplit.Train).Take(count);
        var images = Enumerable.Range(0, data.Count).Select(i => data.Pixels(i).ToArray().Select(b => b / 255f).ToArray()).ToList();
        return (images, Enumerable.Range(0, data.Count).Select(data.Label).ToList());
    }

    private static DiTTrainingOptions Options(int epochs) => new()
    {
        Epochs = epochs, BatchSize = 32, LearningRate = 2e-3, WarmupEpochs = 0.5, ValidationFraction = 0.2, Seed = 3, Threads = 2,
    };

    [Fact]
    public void The_denoising_loss_falls_and_sampling_gets_the_ema_weights()
    {
        using var scope = NewDisposeScope();
        var (images, labels) = FashionMnist(320);
        manual_seed(1);
        var model = new MoHDiT(Tiny);
        var reports = new List<TrainingMetrics>();
        var options = Options(epochs: 4);
        options.MetricsCallback = reports.Add;
        var result = DiTTraining.Train(model, images, labels, options);

        var epochs = result.Summary.Epochs;
        Assert.Equal(4, epochs.Count);
        // A fresh DiT predicts 0, so its loss starts at the target's mean square (v: abar + (1 - abar) E[x_0^2], near 1 for
        // these mostly black images); 32 steps take it well below.
        Assert.True(epochs[^1].ValidationLoss < 0.65 && epochs[^1].ValidationLoss < epochs[0].ValidationLoss,
            $"validation loss per epoch: {string.Join(", ", epochs.Select(e => e.ValidationLoss))}");
        Assert.All(epochs, e => Assert.True(e.BalanceLoss > 0, "MoH blocks report their balance loss"));

        // The EMA lags the trained weights: different parameters, different images from the same seed.
        var raw = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double difference = result.Ema.named_parameters().Max(p => (p.parameter - raw[p.name]).abs().max().item<float>());
        Assert.True(difference > 1e-5, $"EMA and trained weights differ by at most {difference}");
        Assert.All(result.Ema.parameters(), p => Assert.False(p.requires_grad));
        var fromEma = new DiTGenerator(result.Ema).Generate(label: 1, count: 2, steps: 5, guidance: 2, seed: 4);
        var fromRaw = new DiTGenerator(model).Generate(label: 1, count: 2, steps: 5, guidance: 2, seed: 4);
        Assert.NotEqual(fromEma[0].Pixels, fromRaw[0].Pixels);
    }

    [Theory]
    [InlineData(PredictionTarget.Epsilon)]
    [InlineData(PredictionTarget.Velocity)]
    public void The_loss_regresses_the_configured_target(PredictionTarget prediction)
    {
        // A fresh DiT outputs exactly 0 (zero output layer), so its loss is the mean square of the target; the same
        // generator seed redraws the objective's t and eps.
        using var scope = NewDisposeScope();
        var (images, labels) = FashionMnist(8);
        var config = Tiny with { Prediction = prediction };
        var schedule = DiffusionSchedule.Default;
        var objective = new DenoisingObjective(new DenoiserWithEma(new MoHDiT(config)), schedule, classDropout: 0, emaDecay: 0.9);
        var batch = new ClassificationBatch(HostTensor.Of(images.SelectMany(i => i).ToArray(), [8, 1, 28, 28]), labels.Select(l => (long)l).ToArray());
        using var generator = new Generator(5);
        var loss = objective.Compute(batch, CPU, generator).Loss.item<float>();

        using var replay = new Generator(5);
        var t = randint(0, schedule.Steps, [8], generator: replay);
        var noise = randn([8, 1, 28, 28], generator: replay);
        var x0 = tensor(images.SelectMany(i => i).ToArray(), [8, 1, 28, 28]) * 2 - 1;
        var abar = tensor(t.data<long>().ToArray().Select(step => (float)schedule.AlphaCumprod((int)step)).ToArray()).view(8, 1, 1, 1);
        var target = prediction == PredictionTarget.Epsilon ? noise : abar.sqrt() * noise - (1 - abar).sqrt() * x0;
        Assert.Equal(target.pow(2).mean().item<float>(), loss, 1e-5f);
    }

    [Fact]
    public void With_decay_zero_the_ema_is_the_trained_weights()
    {
        using var scope = NewDisposeScope();
        var (images, labels) = FashionMnist(64);
        manual_seed(2);
        var model = new MoHDiT(Tiny);
        var options = Options(epochs: 1);
        options.EmaDecay = 0;
        options.ValidationFraction = 0;
        var result = DiTTraining.Train(model, images, labels, options);
        var raw = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(result.Ema.named_parameters(), p => Assert.True(p.parameter.equal(raw[p.name]).all().item<bool>(), p.name));
    }

    [Fact]
    public void Cancellation_and_the_time_budget_return_a_model_trained_so_far()
    {
        using var scope = NewDisposeScope();
        var (images, labels) = FashionMnist(128);
        manual_seed(3);
        using var cancel = new CancellationTokenSource();
        var options = Options(epochs: 50);
        options.CancellationToken = cancel.Token;
        options.LogEverySteps = 2;
        options.MetricsCallback = m => { if (m.Step >= 2) cancel.Cancel(); };
        var cancelled = DiTTraining.Train(new MoHDiT(Tiny), images, labels, options);
        Assert.True(cancelled.Summary.Cancelled);
        var sample = new DiTGenerator(cancelled.Ema).Generate(label: 0, count: 1, steps: 3, guidance: 1.5, seed: 1);
        Assert.All(sample[0].Pixels, v => Assert.InRange(v, 0f, 1f));

        var budget = Options(epochs: 50);
        budget.MaxTrainingTime = TimeSpan.FromMilliseconds(1);
        Assert.True(DiTTraining.Train(new MoHDiT(Tiny), images, labels, budget).Summary.TimeBudgetReached);
    }

    [Fact]
    public void A_run_resumed_from_a_checkpoint_ends_with_the_same_ema_weights()
    {
        using var scope = NewDisposeScope();
        var (images, labels) = FashionMnist(64);
        DiTTrainingOptions Run(string? folder, CancellationToken cancel = default)
        {
            var options = Options(epochs: 2);
            options.ValidationFraction = 0;
            options.CheckpointDirectory = folder;
            options.CancellationToken = cancel;
            return options;
        }
        MoHDiT Fresh() { manual_seed(4); return new MoHDiT(Tiny); }

        var straight = DiTTraining.Train(Fresh(), images, labels, Run(null)).Ema;
        string folder = Directory.CreateTempSubdirectory("mixtureheads-dit-checkpoints-").FullName;
        try
        {
            using var cancel = new CancellationTokenSource();
            var first = Run(folder, cancel.Token);
            first.MetricsCallback = m => { if (m.Phase == TrainingPhase.EpochEnd) cancel.Cancel(); };
            Assert.True(DiTTraining.Train(Fresh(), images, labels, first).Summary.Cancelled);
            var resumed = DiTTraining.Train(Fresh(), images, labels, Run(folder));
            Assert.Equal(2, resumed.Summary.Epochs.Count);
            var expected = straight.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.All(resumed.Ema.named_parameters(), p => Assert.True(p.parameter.equal(expected[p.name]).all().item<bool>(), p.name));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Bad_data_is_a_typed_error_naming_the_row()
    {
        using var scope = NewDisposeScope();
        using var model = new MoHDiT(Tiny);
        var good = Enumerable.Range(0, 3).Select(_ => new float[784]).ToList();
        var options = Options(epochs: 1);
        Assert.Contains("3 images but 2 labels", Assert.Throws<ArgumentException>(() => DiTTraining.Train(model, good, [0, 1], options)).Message);
        var shortRow = good.Append(new float[10]).ToList();
        Assert.Contains("Image 3 has 10 values", Assert.Throws<ArgumentException>(() => DiTTraining.Train(model, shortRow, [0, 1, 2, 3], options)).Message);
        var nan = good.Append(Enumerable.Repeat(float.NaN, 784).ToArray()).ToList();
        Assert.Contains("Image 3, value 0 is NaN", Assert.Throws<ArgumentException>(() => DiTTraining.Train(model, nan, [0, 1, 2, 3], options)).Message);
        Assert.Contains("Label 1 is 10", Assert.Throws<ArgumentOutOfRangeException>(() => DiTTraining.Train(model, good, [0, 10, 2], options)).Message);
    }
}
