using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>A labelled dataset held as tensors on the CPU: inputs [N, ...] and int64 class indices [N].</summary>
internal sealed record TrainingTensors(Tensor Inputs, Tensor Labels)
{
    public long Count => Labels.shape[0];
}

/// <summary>What the loop needs besides the model and data; built by a trainer from its options.</summary>
internal sealed record LoopSettings(
    TrainerOptionsBase Options,
    int Seed,
    Device Device,
    Func<Tensor, Generator, Tensor>? Augment = null,
    IChannel? Channel = null);

/// <summary>
/// The one training loop every classifier trainer uses: shuffled mini-batches, AdamW with decoupled weight decay,
/// linear warmup + cosine schedule, label-smoothed cross-entropy plus the weighted balance loss, gradient clipping,
/// whole-set validation, early stopping that restores the best weights, progress reports, time budget and
/// cancellation that keep the model trained so far. Each step runs inside its own dispose scope.
/// </summary>
internal static class ClassifierTrainingLoop
{
    public static TrainingSummary Run(nn.Module<Tensor, ClassifierOutput> model, TrainingTensors train, TrainingTensors? validation, LoopSettings settings)
    {
        var options = settings.Options;
        if (options.EarlyStoppingPatience > 0 && validation is null)
            throw new ArgumentException("EarlyStoppingPatience needs validation data: set ValidationSet or ValidationFraction.", nameof(settings));

        torch.manual_seed(settings.Seed);
        using var generator = new Generator((ulong)settings.Seed);
        model.to(settings.Device);
        model.train();

        int stepsPerEpoch = (int)((train.Count + options.BatchSize - 1) / options.BatchSize);
        int totalSteps = stepsPerEpoch * options.Epochs;
        var schedule = new LearningRateSchedule(options.LearningRate, (int)Math.Round(options.WarmupEpochs * stepsPerEpoch), totalSteps, options.MinLearningRateRatio);
        using var optimizer = CreateOptimizer(model, options);

        var clock = Stopwatch.StartNew();
        var window = new ReportWindow(options.Epochs);      // since the last step report
        var epochWindow = new ReportWindow(options.Epochs); // since the epoch began
        var epochReports = new List<TrainingMetrics>();
        var best = new BestWeights();
        int step = 0, epochsWithoutImprovement = 0, lastEpoch = 0;
        bool cancelled = false, outOfTime = false, stoppedEarly = false;

        for (int epoch = 1; epoch <= options.Epochs && !cancelled && !outOfTime && !stoppedEarly; epoch++)
        {
            lastEpoch = epoch;
            using var order = randperm(train.Count, generator: generator);
            for (int batch = 0; batch < stepsPerEpoch; batch++, step++)
            {
                if (options.CancellationToken.IsCancellationRequested) { cancelled = true; break; }
                if (options.MaxTrainingTime is { } budget && clock.Elapsed >= budget) { outOfTime = true; break; }

                double learningRate = schedule.At(step);
                TrainStep(model, optimizer, learningRate, train, order, batch, settings, generator, window, epochWindow);
                window.LearningRate = epochWindow.LearningRate = learningRate;

                if ((step + 1) % Math.Max(1, options.LogEverySteps) == 0)
                    Report(settings, window.Close(TrainingPhase.Step, epoch, step + 1, totalSteps, clock.Elapsed, null));
            }
            if (cancelled || outOfTime) break;

            (double Loss, double Accuracy)? validationResult = validation is null ? null : Evaluate(model, validation, options.BatchSize, settings.Device);
            var report = epochWindow.Close(TrainingPhase.EpochEnd, epoch, step, totalSteps, clock.Elapsed, validationResult);
            window.Close(TrainingPhase.Step, epoch, step, totalSteps, clock.Elapsed, null); // the next step window starts here
            epochReports.Add(report);
            Report(settings, report);

            if (validationResult is { } v)
            {
                if (best.Offer(model, epoch, v.Accuracy, v.Loss)) epochsWithoutImprovement = 0;
                else if (options.EarlyStoppingPatience > 0 && ++epochsWithoutImprovement >= options.EarlyStoppingPatience) stoppedEarly = true;
            }
        }

        int bestEpoch = lastEpoch;
        if (options.EarlyStoppingPatience > 0 && best.Epoch > 0 && !cancelled)
        {
            best.RestoreInto(model);
            bestEpoch = best.Epoch;
        }
        best.Dispose();
        model.eval();
        if (cancelled) settings.Channel?.Warning(MessageSensitivity.None, $"Training cancelled at step {step}; the model holds the weights trained so far.");
        if (outOfTime) settings.Channel?.Info(MessageSensitivity.None, $"Time budget reached at step {step}; the model holds the weights trained so far.");
        return new TrainingSummary(epochReports, bestEpoch, stoppedEarly, cancelled, outOfTime);
    }

    private static void TrainStep(nn.Module<Tensor, ClassifierOutput> model, AdamWOptimizer optimizer, double learningRate, TrainingTensors train, Tensor order,
        int batch, LoopSettings settings, Generator generator, params ReportWindow[] windows)
    {
        var options = settings.Options;
        using var scope = NewDisposeScope();
        long start = (long)batch * options.BatchSize;
        var indices = order.narrow(0, start, Math.Min(options.BatchSize, train.Count - start));
        var inputs = train.Inputs.index_select(0, indices);
        if (settings.Augment is not null) inputs = settings.Augment(inputs, generator);
        inputs = inputs.to(settings.Device);
        var labels = train.Labels.index_select(0, indices).to(settings.Device);

        var output = model.forward(inputs);
        var taskLoss = F.cross_entropy(output.Logits, labels, label_smoothing: options.LabelSmoothing);
        var loss = output.BalanceLoss is null ? taskLoss : taskLoss.add(output.BalanceLoss, Scalars.Of(options.BalanceLossWeight));
        if (!float.IsFinite(loss.item<float>()))
            throw new InvalidOperationException($"Training diverged: the loss became {loss.item<float>()}. Lower LearningRate or keep GradientClipNorm on; no NaN is written into the model.");

        optimizer.ZeroGrad();
        loss.backward();
        if (options.GradientClipNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), options.GradientClipNorm);
        optimizer.Step(learningRate);

        double taskValue = taskLoss.item<float>(), balanceValue = output.BalanceLoss?.item<float>() ?? 0;
        long correct = output.Logits.argmax(1).eq(labels).sum().item<long>();
        var usage = HeadUsage(output.HeadGates);
        foreach (var window in windows) window.Add(labels.shape[0], taskValue, balanceValue, correct, usage);
    }

    /// <summary>Mean cross-entropy and accuracy over the whole of <paramref name="data"/>, in eval mode, without gradients.</summary>
    public static (double Loss, double Accuracy) Evaluate(nn.Module<Tensor, ClassifierOutput> model, TrainingTensors data, int batchSize, Device device)
    {
        bool wasTraining = model.training;
        model.eval();
        double lossSum = 0;
        long correct = 0;
        using (no_grad())
        {
            for (long start = 0; start < data.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                long size = Math.Min(batchSize, data.Count - start);
                var inputs = data.Inputs.narrow(0, start, size).to(device);
                var labels = data.Labels.narrow(0, start, size).to(device);
                var logits = model.forward(inputs).Logits;
                lossSum += F.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).item<float>();
                correct += logits.argmax(1).eq(labels).sum().item<long>();
            }
        }
        if (wasTraining) model.train();
        return (lossSum / data.Count, (double)correct / data.Count);
    }

    private static AdamWOptimizer CreateOptimizer(nn.Module model, TrainerOptionsBase options)
    {
        // Decoupled weight decay on weight matrices only: biases, norm gains, position tables and class tokens are not shrunk.
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        bool Decays((string name, Parameter parameter) p) =>
            p.parameter.dim() >= 2 && !p.name.EndsWith("pos_embed", StringComparison.Ordinal) && !p.name.EndsWith("cls_token", StringComparison.Ordinal);
        return new AdamWOptimizer(
        [
            new(named.Where(Decays).Select(p => p.parameter).ToList(), options.WeightDecay),
            new(named.Where(p => !Decays(p)).Select(p => p.parameter).ToList(), WeightDecay: 0),
        ]);
    }

    /// <summary>Per layer, the share of tokens whose gate for each head is non-zero: [layers][H].</summary>
    private static float[][] HeadUsage(IReadOnlyList<Tensor> gates) =>
        gates.Select(g => g.detach().to(ScalarType.Bool).to(ScalarType.Float32).reshape(-1, g.shape[^1]).mean([0]).cpu().data<float>().ToArray()).ToArray();

    private static void Report(LoopSettings settings, TrainingMetrics metrics)
    {
        settings.Channel?.Info(MessageSensitivity.None, metrics.ToString());
        settings.Options.MetricsCallback?.Invoke(metrics);
    }

    /// <summary>Running sums between two reports.</summary>
    private sealed class ReportWindow(int epochs)
    {
        private long _examples, _correct;
        private int _steps;
        private double _loss, _balance;
        private double[][]? _headUsage;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public double LearningRate { get; set; }

        public void Add(long examples, double loss, double balance, long correct, float[][] headUsage)
        {
            _examples += examples;
            _correct += correct;
            _steps++;
            _loss += loss;
            _balance += balance;
            _headUsage ??= headUsage.Select(layer => new double[layer.Length]).ToArray();
            for (int layer = 0; layer < headUsage.Length; layer++)
                for (int h = 0; h < headUsage[layer].Length; h++) _headUsage[layer][h] += headUsage[layer][h];
        }

        public TrainingMetrics Close(TrainingPhase phase, int epoch, int step, int totalSteps, TimeSpan elapsed, (double Loss, double Accuracy)? validation)
        {
            int steps = Math.Max(1, _steps);
            var usage = (_headUsage ?? []).Select(layer => (IReadOnlyList<double>)layer.Select(u => u / steps).ToArray()).ToList();
            double seconds = Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
            var remaining = step == 0 ? TimeSpan.Zero : elapsed * ((double)(totalSteps - step) / step);
            var metrics = new TrainingMetrics(phase, epoch, epochs, step, totalSteps, _loss / steps, _balance / steps,
                _examples == 0 ? 0 : (double)_correct / _examples, validation?.Loss, validation?.Accuracy, LearningRate, usage,
                elapsed, remaining, _examples / seconds);
            _examples = _correct = 0;
            _steps = 0;
            _loss = _balance = 0;
            _headUsage = null;
            _clock.Restart();
            return metrics;
        }
    }

    /// <summary>A CPU copy of the best epoch's weights (by validation accuracy, then loss).</summary>
    private sealed class BestWeights : IDisposable
    {
        private Dictionary<string, Tensor>? _state;
        private double _accuracy = double.NegativeInfinity, _loss = double.PositiveInfinity;

        public int Epoch { get; private set; }

        public bool Offer(nn.Module model, int epoch, double accuracy, double loss)
        {
            if (accuracy < _accuracy || (accuracy == _accuracy && loss >= _loss)) return false;
            Dispose();
            using var scope = NewDisposeScope(); // the detached aliases go; the clones stay
            _state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().clone().DetachFromDisposeScope());
            (_accuracy, _loss, Epoch) = (accuracy, loss, epoch);
            return true;
        }

        public void RestoreInto(nn.Module model)
        {
            if (_state is null) return;
            using var scope = NewDisposeScope();
            using (no_grad())
            {
                foreach (var (name, value) in model.state_dict()) value.copy_(_state[name]);
            }
        }

        public void Dispose()
        {
            if (_state is null) return;
            foreach (var t in _state.Values) t.Dispose();
            _state = null;
        }
    }
}
