using System.Reflection;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.MixtureHeads;

/// <summary>
/// Entry points in ML.NET's style: <c>mlContext.MulticlassClassification.Trainers.MoHImageClassification(...)</c> /
/// <c>MoHTextClassification(...)</c> and the shortcuts <c>mlContext.MoHImageClassifier(...)</c> /
/// <c>mlContext.MoHTextClassifier(...)</c>, each with flat arguments or an <c>Options</c> object.
/// </summary>
public static class MixtureHeadsCatalog
{
    /// <summary>A Mixture-of-Head attention vision transformer image classifier.</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="imageColumnName">Encoded image bytes, images, or a known-size pixel vector.</param>
    /// <param name="architecture">A registered architecture, e.g. "moh_vit_tiny_75".</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Images per optimizer step.</param>
    /// <param name="learningRate">Peak AdamW learning rate.</param>
    /// <param name="validationSet">Optional data to validate on after each epoch.</param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output key column of the predicted class.</param>
    public static MoHImageClassificationTrainer MoHImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label",
        string imageColumnName = "Image",
        string architecture = "moh_vit_tiny_75",
        int epochs = 10,
        int batchSize = 64,
        double learningRate = 1e-3,
        IDataView? validationSet = null,
        string scoreColumnName = "Score",
        string predictedLabelColumnName = "PredictedLabel") =>
        catalog.MoHImageClassification(new MoHImageClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName,
            ImageColumnName = imageColumnName,
            Architecture = architecture,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            ValidationSet = validationSet,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
        });

    /// <summary>A Mixture-of-Head attention vision transformer image classifier with every option.</summary>
    public static MoHImageClassificationTrainer MoHImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, MoHImageClassificationTrainer.Options options) =>
        new(EnvironmentOf(catalog), options);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHImageClassification(...)</c>.</summary>
    public static MoHImageClassificationTrainer MoHImageClassifier(
        this MLContext mlContext,
        string labelColumnName = "Label",
        string imageColumnName = "Image",
        string architecture = "moh_vit_tiny_75",
        int epochs = 10,
        int batchSize = 64,
        double learningRate = 1e-3,
        IDataView? validationSet = null) =>
        CheckContext(mlContext).MulticlassClassification.Trainers.MoHImageClassification(
            labelColumnName, imageColumnName, architecture, epochs, batchSize, learningRate, validationSet);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHImageClassification(options)</c>.</summary>
    public static MoHImageClassificationTrainer MoHImageClassifier(this MLContext mlContext, MoHImageClassificationTrainer.Options options) =>
        CheckContext(mlContext).MulticlassClassification.Trainers.MoHImageClassification(options);

    /// <summary>A Mixture-of-Head attention text classifier.</summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="architecture">A registered architecture, e.g. "moh_text_tiny_75".</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="batchSize">Texts per optimizer step.</param>
    /// <param name="learningRate">Peak AdamW learning rate.</param>
    /// <param name="validationSet">Optional data to validate on after each epoch.</param>
    /// <param name="scoreColumnName">Output column of class probabilities.</param>
    /// <param name="predictedLabelColumnName">Output key column of the predicted class.</param>
    public static MoHTextClassificationTrainer MoHTextClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label",
        string textColumnName = "Text",
        string architecture = "moh_text_tiny_75",
        int epochs = 3,
        int batchSize = 32,
        double learningRate = 1e-3,
        IDataView? validationSet = null,
        string scoreColumnName = "Score",
        string predictedLabelColumnName = "PredictedLabel") =>
        catalog.MoHTextClassification(new MoHTextClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName,
            TextColumnName = textColumnName,
            Architecture = architecture,
            Epochs = epochs,
            BatchSize = batchSize,
            LearningRate = learningRate,
            ValidationSet = validationSet,
            ScoreColumnName = scoreColumnName,
            PredictedLabelColumnName = predictedLabelColumnName,
        });

    /// <summary>A Mixture-of-Head attention text classifier with every option.</summary>
    public static MoHTextClassificationTrainer MoHTextClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, MoHTextClassificationTrainer.Options options) =>
        new(EnvironmentOf(catalog), options);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHTextClassification(...)</c>.</summary>
    public static MoHTextClassificationTrainer MoHTextClassifier(
        this MLContext mlContext,
        string labelColumnName = "Label",
        string textColumnName = "Text",
        string architecture = "moh_text_tiny_75",
        int epochs = 3,
        int batchSize = 32,
        double learningRate = 1e-3,
        IDataView? validationSet = null) =>
        CheckContext(mlContext).MulticlassClassification.Trainers.MoHTextClassification(
            labelColumnName, textColumnName, architecture, epochs, batchSize, learningRate, validationSet);

    /// <summary>Shortcut for <c>mlContext.MulticlassClassification.Trainers.MoHTextClassification(options)</c>.</summary>
    public static MoHTextClassificationTrainer MoHTextClassifier(this MLContext mlContext, MoHTextClassificationTrainer.Options options) =>
        CheckContext(mlContext).MulticlassClassification.Trainers.MoHTextClassification(options);

    private static MLContext CheckContext(MLContext mlContext) => mlContext ?? throw new ArgumentNullException(nameof(mlContext));

    /// <summary>
    /// The environment behind an ML.NET catalog, so training logs reach the user's <c>MLContext.Log</c> and use its seed.
    /// ML.NET keeps it internal to its own trainers; we read it by reflection and fall back to a fresh environment.
    /// </summary>
    internal static IHostEnvironment EnvironmentOf(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        const BindingFlags NonPublic = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        object? owner = catalog.GetType().GetProperty("Owner", NonPublic)?.GetValue(catalog);
        return owner?.GetType().GetProperty("Environment", NonPublic)?.GetValue(owner) as IHostEnvironment ?? new MLContext();
    }
}
