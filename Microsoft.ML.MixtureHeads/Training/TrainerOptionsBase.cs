namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// Options every Mixture-of-Heads trainer shares, whatever its task: the optimisation recipe (AdamW, linear warmup +
/// cosine, gradient clipping, balance loss), data handling, validation and early stopping, progress and cancellation.
/// Public fields with documented defaults, in ML.NET's style.
/// </summary>
public abstract class TrainerOptionsBase
{
    /// <summary>Passes over the training data. Default 10 (a trainer may set its own).</summary>
    public int Epochs = 10;

    /// <summary>Examples per optimizer step. Default 64 (a trainer may set its own).</summary>
    public int BatchSize = 64;

    /// <summary>Peak learning rate of AdamW. Default 1e-3.</summary>
    public double LearningRate = 1e-3;

    /// <summary>AdamW weight decay, applied to matrices only (not to biases, norms, embeddings' position tables or tokens). Default 0.05.</summary>
    public double WeightDecay = 0.05;

    /// <summary>Epochs of linear warmup (fractions allowed). Default 1.</summary>
    public double WarmupEpochs = 1;

    /// <summary>The learning rate at the end of the cosine decay, as a fraction of the peak. Default 0.01.</summary>
    public double MinLearningRateRatio = 0.01;

    /// <summary>Gradient clipping by global L2 norm; 0 turns it off. Default 1.0.</summary>
    public double GradientClipNorm = 1.0;

    /// <summary>Weight of the load-balance loss of routed heads and experts (specs: 0.01). Default 0.01.</summary>
    public double BalanceLossWeight = 0.01;

    /// <summary>Random seed for initialisation, shuffling, augmentation and dropout; null takes the MLContext's seed (or 0).</summary>
    public int? Seed;

    /// <summary>
    /// libtorch intra-op threads during Fit (restored afterwards). Null (the default): libtorch's count (one per core)
    /// while the machine is otherwise idle, and only the cores other processes leave idle while they are busy, re-read
    /// every 2 seconds on Linux; next to one busy process on 2 cores this trained 1.5-1.7x as fast as keeping both threads
    /// (two runs, docs/decisions.md). A fixed count for fits that must give bit-identical weights whatever else the machine runs
    /// (libtorch's reductions depend on the thread count).
    /// </summary>
    public int? Threads;

    /// <summary>
    /// The number format of the matrix products while training: <see cref="TrainingPrecision.Auto"/> runs them, and the
    /// activations layers pass between them, in bf16 (fp32 master weights; layer norms, softmax, routers and their gates,
    /// losses and the optimizer in fp32) on a CPU with native bf16 dot products and in fp32 elsewhere;
    /// <see cref="TrainingPrecision.BFloat16"/> always. Validation and the exported model are fp32 either way. Default
    /// Auto. On a 2-core Zen 4, bf16 matched fp32's accuracy within the seed spread, and a moh_vit_tiny_75 Fit trained
    /// 1.86x as many images per second with it (docs/decisions.md).
    /// </summary>
    public TrainingPrecision Precision = TrainingPrecision.Auto;

    /// <summary>"cpu", "cuda", "cuda:1", ... or "auto": <c>MLContext.GpuDeviceId</c> when set (with <c>MLContext.FallbackToCpu</c>
    /// deciding what happens when that GPU is not there), else CUDA when TorchSharp has it, else CPU. Default "auto".</summary>
    public string Device = "auto";

    /// <summary>
    /// Decoded training and validation examples up to this size are kept in memory and shuffled there each epoch;
    /// larger data is streamed from the <c>IDataView</c> every epoch through a bounded shuffle pool instead, so memory
    /// stays bounded whatever the row count. Default 2 GiB.
    /// </summary>
    public long MaxInMemoryDataBytes = 2L << 30;

    /// <summary>
    /// Data to validate on at the end of each epoch: the trainer's input columns, and for a classifier a label column
    /// holding either the class names as text (the raw data, before <c>MapValueToKey</c>) or the training data's key type.
    /// Default none.
    /// </summary>
    public IDataView? ValidationSet;

    /// <summary>When no <see cref="ValidationSet"/> is given, the fraction of the training data held out for
    /// validation (0 = none). Default 0.</summary>
    public double ValidationFraction;

    /// <summary>Stop after this many epochs without a better validation result and restore the best epoch's
    /// weights; 0 turns early stopping off. Needs validation data. Default 0.</summary>
    public int EarlyStoppingPatience;

    /// <summary>Stop at the first step after this much training time and keep the model so far. Default none.</summary>
    public TimeSpan? MaxTrainingTime;

    /// <summary>Receives progress reports (see <see cref="LogEverySteps"/>, <see cref="ReportInterval"/>) and one at each epoch end.</summary>
    public Action<TrainingMetrics>? MetricsCallback;

    /// <summary>Step reports are made every this many optimizer steps. Default 50.</summary>
    public int LogEverySteps = 50;

    /// <summary>A step report is also made when this much time has passed since the last report. Default 10 seconds.</summary>
    public TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A folder for training checkpoints (created when missing), or null for none. A checkpoint holds everything needed to
    /// go on as if training had never stopped: weights, optimizer state, the schedule's position, the random generators,
    /// the position in the epoch's data order, the best weights so far. It is written every
    /// <see cref="CheckpointEverySteps"/> steps and at each epoch end, atomically (a process killed while writing leaves
    /// the previous one whole); the newest two are kept. <c>Fit</c> resumes from the newest checkpoint of the same run
    /// (same data size, epochs, batch size and seed) found there, and refuses one of another run. Default none.
    /// </summary>
    public string? CheckpointDirectory;

    /// <summary>With a <see cref="CheckpointDirectory"/>, a checkpoint is written every this many optimizer steps (and at each
    /// epoch end): a crash loses at most these steps. Default 100.</summary>
    public int CheckpointEverySteps = 100;

    /// <summary>Cancels training at the next step; Fit then returns the model trained so far. <c>mlContext.CancelExecution()</c> (Microsoft.ML.Experimental) does the same.</summary>
    public CancellationToken CancellationToken;

    /// <summary>A shallow copy of these options with another peak learning rate.</summary>
    internal TrainerOptionsBase WithLearningRate(double learningRate)
    {
        var copy = (TrainerOptionsBase)MemberwiseClone();
        copy.LearningRate = learningRate;
        return copy;
    }
}
