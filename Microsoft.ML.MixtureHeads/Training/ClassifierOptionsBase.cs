using Microsoft.ML.MixtureHeads.Persistence;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Options of every Mixture-of-Heads classifier: the task-neutral ones plus columns, architecture, label
/// smoothing and a checkpoint to start from.</summary>
public abstract class ClassifierOptionsBase : TrainerOptionsBase
{
    /// <summary>Options with a trainer's own defaults for the architecture and the recipe.</summary>
    protected ClassifierOptionsBase(string architecture, int epochs, int batchSize, double learningRate) =>
        (Architecture, Epochs, BatchSize, LearningRate) = (architecture, epochs, batchSize, learningRate);

    /// <summary>The label column: a key type (use <c>MapValueToKey</c>); the class count comes from it. Default "Label".</summary>
    public string LabelColumnName = "Label";

    /// <summary>The output column of class probabilities. Default "Score".</summary>
    public string ScoreColumnName = "Score";

    /// <summary>The output key column of the predicted class. Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName = "PredictedLabel";

    /// <summary>A registered architecture name (see <c>ModelRegistry.List()</c>); each trainer has its own default.</summary>
    public string Architecture;

    /// <summary>Label smoothing of the training cross-entropy loss. Default 0.1.</summary>
    public double LabelSmoothing = 0.1;

    /// <summary>Continue training from this checkpoint (e.g. <c>MixtureHeadsCheckpoint.FromZip</c>) instead of a fresh
    /// network: its architecture and classes are kept, and options that would change them must be left unset. Default none.</summary>
    public MixtureHeadsCheckpoint? InitialModel;
}
