using System.Reflection;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using ImageOptions = Microsoft.ML.MixtureHeads.Estimators.MoHImageClassificationTrainer.Options;
using TextOptions = Microsoft.ML.MixtureHeads.Estimators.MoHTextClassificationTrainer.Options;
using LanguageModelOptions = Microsoft.ML.MixtureHeads.Estimators.MoHLanguageModelScoringEstimator.Options;

namespace Microsoft.ML.MixtureHeads;

/// <summary>
/// Entry points in ML.NET's style: <c>mlContext.MulticlassClassification.Trainers.MoHImageClassification(...)</c> /
/// <c>MoHTextClassification(...)</c>, each with flat arguments or an <c>Options</c> object, and the shortcuts
/// <c>mlContext.MoHImageClassifier(options)</c> / <c>mlContext.MoHTextClassifier(options)</c>. The flat arguments start
/// as ML.NET's <c>ImageClassification</c> does (label, features, score, predicted label, validation set), and their
/// defaults are the <c>Options</c> defaults.
/// </summary>
public static class MixtureHeadsCatalog
{
    /// <summary>A Mixture-of-Head attention vision transformer image classifier.</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="imageColumnName">Encoded image bytes, images, or a known-size pixel vector.</param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output key column of the predicted class.</param>
    /// <param name="validationSet">Optional data to validate on after each epoch.</param>
    /// <param name="architecture">A registered architecture, e.g. "moh_vit_tiny_75".</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Images per optimizer step.</param>
    /// <param name="learningRate">Peak AdamW learning rate.</param>
    public static MoHImageClassificationTrainer MoHImageClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string imageColumnName = "Image", string scoreColumnName = "Score", string predictedLabelColumnName = "PredictedLabel",
        IDataView? validationSet = null, string architecture = ImageOptions.DefaultArchitecture, int epochs = ImageOptions.DefaultEpochs,
        int batchSize = ImageOptions.DefaultBatchSize, double learningRate = ImageOptions.DefaultLearningRate) =>
        new(EnvironmentOf(catalog), Common(new ImageOptions { ImageColumnName = imageColumnName }, labelColumnName, scoreColumnName, predictedLabelColumnName, validationSet, architecture, epochs, batchSize, learningRate));

    /// <summary>A Mixture-of-Head attention vision transformer image classifier with every option.</summary>
    public static MoHImageClassificationTrainer MoHImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ImageOptions options) =>
        new(EnvironmentOf(catalog), options);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHImageClassification(options)</c>; default options when none are given.</summary>
    public static MoHImageClassificationTrainer MoHImageClassifier(this MLContext mlContext, ImageOptions? options = null) =>
        new(CheckContext(mlContext), options ?? new ImageOptions());

    /// <summary>A Mixture-of-Head attention text classifier. The arguments come in the order of Microsoft.ML.TorchSharp's
    /// <c>TextClassification</c> (label, sentence 1, score, predicted label, sentence 2, batch size, epochs, validation set).</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output key column of the predicted class.</param>
    /// <param name="secondTextColumnName">A second text column for sentence pairs, or null.</param>
    /// <param name="batchSize">Texts per optimizer step.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="validationSet">Optional data to validate on after each epoch.</param>
    /// <param name="architecture">A registered architecture, e.g. "moh_text_tiny_75".</param>
    /// <param name="learningRate">Peak AdamW learning rate.</param>
    public static MoHTextClassificationTrainer MoHTextClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string textColumnName = "Text", string scoreColumnName = "Score", string predictedLabelColumnName = "PredictedLabel",
        string? secondTextColumnName = null, int batchSize = TextOptions.DefaultBatchSize, int epochs = TextOptions.DefaultEpochs, IDataView? validationSet = null,
        string architecture = TextOptions.DefaultArchitecture, double learningRate = TextOptions.DefaultLearningRate) =>
        new(EnvironmentOf(catalog), Common(new TextOptions { TextColumnName = textColumnName, SecondTextColumnName = secondTextColumnName }, labelColumnName, scoreColumnName, predictedLabelColumnName, validationSet, architecture, epochs, batchSize, learningRate));

    /// <summary>A Mixture-of-Head attention text classifier with every option.</summary>
    public static MoHTextClassificationTrainer MoHTextClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, TextOptions options) =>
        new(EnvironmentOf(catalog), options);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHTextClassification(options)</c>; default options when none are given.</summary>
    public static MoHTextClassificationTrainer MoHTextClassifier(this MLContext mlContext, TextOptions? options = null) =>
        new(CheckContext(mlContext), options ?? new TextOptions());

    /// <summary>
    /// Novelty scoring with a Mixture-of-Heads language model trained on the text column (or loaded from a checkpoint):
    /// adds <c>LogLikelihood</c> (mean ln p per byte token), <c>Perplexity</c> and <c>TokenCount</c> per row.
    /// </summary>
    /// <param name="catalog">ML.NET's transforms.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="logLikelihoodColumnName">Output column of the mean per-token log-probability.</param>
    /// <param name="perplexityColumnName">Output column of exp(-log-likelihood).</param>
    /// <param name="architecture">A registered causal-LM architecture, e.g. "moh_lm_tiny_75".</param>
    /// <param name="epochs">Passes over the training text.</param>
    /// <param name="checkpoint">A safetensors checkpoint folder to score with instead of training, or null.</param>
    public static MoHLanguageModelScoringEstimator MoHLanguageModelScoring(this TransformsCatalog catalog, string textColumnName = "Text",
        string logLikelihoodColumnName = "LogLikelihood", string perplexityColumnName = "Perplexity",
        string architecture = LanguageModelOptions.DefaultArchitecture, int epochs = 3, string? checkpoint = null) =>
        new(EnvironmentOf(catalog), new LanguageModelOptions
        {
            TextColumnName = textColumnName, LogLikelihoodColumnName = logLikelihoodColumnName, PerplexityColumnName = perplexityColumnName,
            Architecture = architecture, Epochs = epochs, Checkpoint = checkpoint,
        });

    /// <summary>Novelty scoring with a Mixture-of-Heads language model, with every option.</summary>
    public static MoHLanguageModelScoringEstimator MoHLanguageModelScoring(this TransformsCatalog catalog, LanguageModelOptions options) =>
        new(EnvironmentOf(catalog), options);

    /// <summary>Shortcut for <c>mlContext.Transforms.MoHLanguageModelScoring(options)</c>; default options when none are given.</summary>
    public static MoHLanguageModelScoringEstimator MoHLanguageModel(this MLContext mlContext, LanguageModelOptions? options = null) =>
        new(CheckContext(mlContext), options ?? new LanguageModelOptions());

    /// <summary>Fills the options every classifier's flat overload shares.</summary>
    private static TOptions Common<TOptions>(TOptions options, string label, string score, string predicted, IDataView? validationSet,
        string architecture, int epochs, int batchSize, double learningRate) where TOptions : ClassifierOptionsBase
    {
        (options.LabelColumnName, options.ScoreColumnName, options.PredictedLabelColumnName, options.ValidationSet) = (label, score, predicted, validationSet);
        (options.Architecture, options.Epochs, options.BatchSize, options.LearningRate) = (architecture, epochs, batchSize, learningRate);
        return options;
    }

    private static MLContext CheckContext(MLContext mlContext) => mlContext ?? throw new ArgumentNullException(nameof(mlContext));

    /// <summary>
    /// The environment behind an ML.NET catalog - the user's <c>MLContext</c> - so training logs reach its
    /// <c>Log</c> and use its seed. ML.NET keeps it internal to its own trainers; we read it by reflection, and fail
    /// loudly rather than train with another context should a future ML.NET move it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The catalog does not lead to an environment.</exception>
    internal static IHostEnvironment EnvironmentOf(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        object? owner = catalog.GetType().GetProperty("Owner", Any)?.GetValue(catalog);
        // TransformsCatalog holds the environment itself, as an explicit implementation of ML.NET's internal IInternalCatalog.
        var own = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IInternalCatalog")?.GetProperty("Environment", Any);
        return (owner?.GetType().GetProperty("Environment", Any)?.GetValue(owner) ?? own?.GetValue(catalog)) as IHostEnvironment
            ?? throw new InvalidOperationException(
                $"Could not find the MLContext behind {catalog.GetType().Name} (this ML.NET version keeps it elsewhere). " +
                "Use the shortcut mlContext.MoHImageClassifier(options) / MoHTextClassifier(options) / MoHLanguageModel(options), which takes the MLContext itself.");
    }
}
