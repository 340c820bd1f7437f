using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// The one training loop every trainer uses, whatever the task: batches from a source, AdamW with decoupled weight
/// decay, linear warmup + cosine schedule, the objective's loss plus the weighted balance loss, gradient clipping,
/// whole-set validation each epoch, early stopping that restores the best weights, progress reports, a thread count
/// that leaves other processes their cores (unless <c>Threads</c> is set), a time budget
/// and cancellation that keep the model trained so far, and a non-finite-loss guard before any weight changes. Each
/// step runs inside its own dispose scope. With a <c>CheckpointDirectory</c> it writes checkpoints as it goes and
/// resumes from the newest one, continuing exactly as the uninterrupted run would.
/// </summary>
internal static class TrainingLoop
{
    public static TrainingSummary Run<TBatch>(ITrainingObjective<TBatch> objective, IBatchSource<TBatch> train, IBatchSource<TBatch>? validation, LoopSettings settings)
    {
        var options = settings.Options;
        var model = objective.Network;
        if (options.EarlyStoppingPatience > 0 && validation is null)
            throw new ArgumentException("EarlyStoppingPatience needs validation data: set ValidationSet or ValidationFraction.", nameof(validation));
        if (train.BatchesPerEpoch < 1) throw new ArgumentException("The training data yields no batch.", nameof(train));

        manual_seed(settings.Seed);   // dropout
        using var generator = new Generator((ulong)settings.Seed);
        model.to(settings.Device);
        model.train();
        using var precision = MixedPrecision.Use(TrainingPrecisions.ComputeType(options.Precision, settings.Device));

        int stepsPerEpoch = checked((int)train.BatchesPerEpoch);
        int totalSteps = stepsPerEpoch * options.Epochs;
        var schedule = new LearningRateSchedule(options.LearningRate, (int)Math.Round(options.WarmupEpochs * stepsPerEpoch), totalSteps, options.MinLearningRateRatio);
        using var optimizer = CreateOptimizer(model, options);
        using var threads = options.Threads is null && settings.Device.type == DeviceType.CPU ? IdleCoreThreads.Start(settings.Channel) : null;
        // A training forward moves batch-norm running statistics; a step rejected for a non-finite loss puts them back.
        var runningStatistics = model.modules().OfType<ExportableBatchNorm2d>().Where(n => n.MovesRunningStatistics).SelectMany(n => new[] { n.running_mean, n.running_var }).ToList();

        var clock = Stopwatch.StartNew();
        var progress = new Progress(settings, totalSteps, () => clock.Elapsed);
        var window = new ReportWindow(options.Epochs);      // since the last step report
        var epochWindow = new ReportWindow(options.Epochs); // since the epoch began
        var epochReports = new List<TrainingMetrics>();
        using var best = new BestWeights(objective.Criterion);
        var checkpoints = TrainingCheckpoints.For(settings, stepsPerEpoch);
        var resume = checkpoints?.Restore(model, optimizer, best, generator, epochReports);
        int step = resume?.Step ?? 0, epochsWithoutImprovement = resume?.EpochsWithoutImprovement ?? 0, lastEpoch = resume?.Epoch ?? 0;
        int firstEpoch = resume is { } at ? (at.EpochComplete ? at.Epoch + 1 : at.Epoch) : 1;
        int batchesToSkip = resume is { EpochComplete: false } within ? within.BatchesDone : 0;
        bool cancelled = false, outOfTime = false;
        bool stoppedEarly = options.EarlyStoppingPatience > 0 && epochsWithoutImprovement >= options.EarlyStoppingPatience;

        for (int epoch = firstEpoch; epoch <= options.Epochs && !cancelled && !outOfTime && !stoppedEarly; epoch++)
        {
            lastEpoch = epoch;
            int batchInEpoch = 0;
            foreach (var batch in train.Batches(epoch))
            {
                if (batchInEpoch < batchesToSkip) { batchInEpoch++; continue; } // trained on before the checkpoint we resumed from
                if (settings.CancellationRequested) { cancelled = true; break; }
                if (options.MaxTrainingTime is { } budget && clock.Elapsed >= budget) { outOfTime = true; break; }

                double learningRate = schedule.At(step);
                TrainStep(objective, optimizer, learningRate, batch, settings, generator, runningStatistics, window, epochWindow);
                window.LearningRate = epochWindow.LearningRate = learningRate;
                step++;
                (objective as IStepObserver)?.AfterStep(step);
                threads?.Check();
                batchInEpoch++;
                if (checkpoints is not null && checkpoints.DueAfter(step))
                    checkpoints.Save(new ResumePoint(step, epoch, batchInEpoch, EpochComplete: false, epochsWithoutImprovement), model, optimizer, best, generator, epochReports);
                if (progress.StepReportDue(step))
                    progress.Report(window.Close(TrainingPhase.Step, epoch, step, totalSteps, clock.Elapsed, progress.Remaining(step), null));
            }
            batchesToSkip = 0;
            if (cancelled || outOfTime) break;

            var validationResult = validation is null ? null : Evaluate(objective, validation, settings.Device);
            var report = epochWindow.Close(TrainingPhase.EpochEnd, epoch, step, totalSteps, clock.Elapsed, progress.Remaining(step), validationResult);
            window.Close(TrainingPhase.Step, epoch, step, totalSteps, clock.Elapsed, TimeSpan.Zero, null); // the next step window starts here
            epochReports.Add(report);
            progress.Report(report);

            if (validationResult is { } v)
            {
                if (best.Offer(model, epoch, v)) epochsWithoutImprovement = 0;
                else if (options.EarlyStoppingPatience > 0 && ++epochsWithoutImprovement >= options.EarlyStoppingPatience) stoppedEarly = true;
            }
            checkpoints?.Save(new ResumePoint(step, epoch, batchInEpoch, EpochComplete: true, epochsWithoutImprovement), model, optimizer, best, generator, epochReports);
        }

        int bestEpoch = lastEpoch;
        if (options.EarlyStoppingPatience > 0 && best.Epoch > 0 && !cancelled)
        {
            best.RestoreInto(model);
            bestEpoch = best.Epoch;
        }
        model.eval();
        if (cancelled) settings.Channel?.Warning(MessageSensitivity.None, $"Training cancelled at step {step}; the model holds the weights trained so far.");
        if (outOfTime) settings.Channel?.Info(MessageSensitivity.None, $"Time budget reached at step {step}; the model holds the weights trained so far.");
        return new TrainingSummary(epochReports, bestEpoch, stoppedEarly, cancelled, outOfTime);
    }

    private static void TrainStep<TBatch>(ITrainingObjective<TBatch> objective, AdamWOptimizer optimizer, double learningRate, TBatch batch,
        LoopSettings settings, Generator generator, IReadOnlyList<Tensor> runningStatistics, params ReportWindow[] windows)
    {
        var options = settings.Options;
        using var scope = NewDisposeScope();
        var statisticsBefore = runningStatistics.Select(t => t.clone()).ToList();
        var result = objective.Compute(batch, settings.Device, generator);
        var loss = result.BalanceLoss is null ? result.Loss : result.Loss.add(result.BalanceLoss, Scalars.Of(options.BalanceLossWeight));
        float lossValue = loss.item<float>();
        if (!float.IsFinite(lossValue))
        {
            using (no_grad())
                for (int i = 0; i < runningStatistics.Count; i++) runningStatistics[i].copy_(statisticsBefore[i]);
            throw new InvalidOperationException($"Training diverged: the loss became {lossValue}. Lower LearningRate or keep GradientClipNorm on; no NaN is written into the model.");
        }

        optimizer.ZeroGrad();
        loss.backward();
        if (options.GradientClipNorm > 0) nn.utils.clip_grad_norm_(objective.Network.parameters(), options.GradientClipNorm);
        optimizer.Step(learningRate);

        var sums = new BatchSums(result.Examples, result.Targets, result.Loss.item<float>() * (double)result.Targets,
            result.BalanceLoss?.item<float>() ?? 0, result.Correct?.item<long>());
        var usage = HeadUsage(result.HeadGates);
        foreach (var window in windows) window.Add(sums, usage);
    }

    /// <summary>The objective's mean loss and accuracy over the whole of <paramref name="data"/>, in eval mode, without gradients,
    /// in fp32 whatever the training precision: the figures of the fp32 model that is exported.</summary>
    public static ValidationResult Evaluate<TBatch>(ITrainingObjective<TBatch> objective, IBatchSource<TBatch> data, Device device)
    {
        var model = objective.Network;
        bool wasTraining = model.training;
        model.eval();
        double lossSum = 0;
        long targets = 0, correct = 0;
        bool hasAccuracy = true;
        using var generator = new Generator(0);   // the same draws every validation pass
        using var fp32 = MixedPrecision.Use(null);
        using (no_grad())
        {
            foreach (var batch in data.Batches(1))
            {
                using var scope = NewDisposeScope();
                var result = objective.Compute(batch, device, generator);
                lossSum += result.Loss.item<float>() * (double)result.Targets;
                targets += result.Targets;
                if (result.Correct is null) hasAccuracy = false;
                else correct += result.Correct.item<long>();
            }
        }
        if (wasTraining) model.train();
        return new ValidationResult(lossSum / Math.Max(1, targets), hasAccuracy ? (double)correct / Math.Max(1, targets) : null);
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
}

/// <summary>The objective's loss and accuracy (null when it has none) over a whole validation set.</summary>
internal sealed record ValidationResult(double Loss, double? Accuracy);
