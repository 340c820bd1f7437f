using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// The fitting flow every Mixture-of-Heads classifier shares: check the schema up front, featurise with ML.NET
/// stages, read (or stream) the labelled rows, hold out validation data, train with the classification objective on
/// the shared <see cref="TrainingLoop"/>, export the network to ONNX and wrap it in standard ML.NET stages. A trainer
/// supplies its input handling and network (a <see cref="ClassifierPlan"/>). Fit keeps no state in the trainer, so
/// one trainer may fit several times, also at once.
/// </summary>
public abstract class ClassifierTrainerBase<TTransformer, TOptions> : IEstimator<TTransformer>
    where TTransformer : MixtureHeadsClassificationTransformer
    where TOptions : ClassifierOptionsBase
{
    private readonly IHostEnvironment _environment;

    /// <summary>The options this trainer fits with.</summary>
    public TOptions TrainerOptions { get; }

    private protected ClassifierTrainerBase(IHostEnvironment environment, TOptions options)
    {
        _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        TrainerOptions = options ?? throw new ArgumentNullException(nameof(options));
        CheckOptions(options);
    }

    private protected abstract string ComponentName { get; }

    /// <summary>The model kinds this trainer trains (an initial model of another kind is refused).</summary>
    private protected abstract IReadOnlyList<string> Kinds { get; }

    /// <summary>The ML.NET stages, input adapter and network factory for this data; throws naming the column when its type is wrong.</summary>
    /// <param name="stages">Builds the standard ML.NET stages (seeded).</param>
    /// <param name="data">The training data (its schema, and its first rows where the architecture is sized to them).</param>
    /// <param name="initialConfig">The initial model's architecture when training continues from one: the plan must
    /// feed that architecture, and its network factory is not called.</param>
    /// <param name="channel">Where to say what was decided from the data.</param>
    private protected abstract ClassifierPlan Plan(MLContext stages, IDataView data, ModelConfig? initialConfig, IChannel channel);

    /// <summary>The options set that an initial model's architecture overrides, each as "Name = value (the model has ...)".</summary>
    private protected abstract IEnumerable<string> OptionsConflictingWith(ModelConfig initialConfig);

    /// <summary>The user's columns the network input is made from (checked in a validation set too).</summary>
    private protected abstract IReadOnlyList<string> InputColumnNames { get; }

    /// <summary>Training-time augmentation of an input batch, or null.</summary>
    private protected virtual Func<Tensor, Generator, Tensor>? Augmentation => null;

    private protected abstract TTransformer CreateTransformer(FittedClassifier fitted);

    /// <summary>Checks the trainer-specific input columns in a schema shape.</summary>
    private protected abstract void CheckInputColumns(SchemaShape inputSchema);

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it and the data set).</exception>
    /// <exception cref="ArgumentException">The data has no rows, or the options are inconsistent.</exception>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Platform.LibTorchSharpRuntime.EnsureLoaded();
        var options = TrainerOptions;
        var labelColumn = LabelColumn.Check(input.Schema, options.LabelColumnName);
        var classNames = LabelColumn.ClassNames(labelColumn);
        var initial = CheckInitialModel(options.InitialModel, classNames);

        var host = _environment.Register(ComponentName);
        using var channel = host.Start("Training");
        int seed = options.Seed ?? host.Rand.Next();
        var context = ContextSettings.Of(_environment, host, channel);
        var device = TrainingDevice.Resolve(options.Device, context, channel);
        var stages = new MLContext(seed) { TempFilePath = context.TempFilePath ?? Path.GetTempPath() };
        var plan = Plan(stages, input, initial?.Config, channel);
        var columns = new ScoringColumns(plan.InputColumn, options.ScoreColumnName, options.PredictedLabelColumnName, classNames);
        columns.CheckClassNames(options.LabelColumnName);
        var validationLabels = options.ValidationSet is { } validationSet ? CheckValidationSet(validationSet, input.Schema, classNames) : null;
        using var threads = LibTorchThreads.Use(options.Threads);

        var preprocessing = plan.Stages?.Fit(input);
        channel.Info(MessageSensitivity.None, "Reading the training data...");
        var reading = System.Diagnostics.Stopwatch.StartNew();
        var validation = options.ValidationSet is { } v ? preprocessing?.Transform(v) ?? v : null;
        var data = plan.Read(preprocessing?.Transform(input) ?? input, validation, validationLabels, options.LabelColumnName, options, seed,
            line => channel.Info(MessageSensitivity.None, line));
        LabelColumn.RequireClasses(labelColumn);
        channel.Info(MessageSensitivity.None,
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Read {data.TrainRows:N0} training rows and {data.ValidationRows:N0} validation rows of {classNames.Length} classes in {reading.Elapsed:mm\\:ss}; {(data.InMemory ? "held in memory" : "streamed each epoch")}."));

        manual_seed(seed);   // weight initialisation
        var network = initial is null ? plan.CreateNetwork(classNames) : InitialNetwork(initial);
        try
        {
            var (trained, batches) = network is IFrozenPrefixNetwork prefix && Augmentation is null
                ? WithFrozenPrefixCached(network, prefix, plan, data, seed, device, channel)
                : (network, data);
            var loopOptions = plan.LearningRate is { } learningRate ? options.WithLearningRate(learningRate) : options;
            var objective = new ClassificationObjective(trained, classNames, options.LabelSmoothing, Augmentation, options.ScoreColumnName, PredictedLabelMapping.IndexColumn);
            var summary = TrainingLoop.Run(objective, batches.Train, batches.Validation, new LoopSettings(loopOptions, seed, device, channel, context.IsCancelled));
            network.Module.to(CPU);
            byte[] onnx = ExportedModel.Export(network, objective, plan.InputColumn);
            string onnxFile = TemporaryModelFiles.Write(onnx, context.TempFilePath);
            var chain = ScoringChain.Build(stages, input, preprocessing, onnxFile, columns, plan.TemporaryColumns);
            return CreateTransformer(new FittedClassifier(chain, preprocessing, plan.CreateScoringInput, onnx, onnxFile, columns, network, summary));
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The network seen from its frozen prefix's output and the data as that output, computed once (progress in the
    /// log every <c>ReportInterval</c>); the network and data unchanged when the output cannot be cached.</summary>
    private (IMixtureHeadsNetwork<Tensor>, ClassifierData) WithFrozenPrefixCached(IMixtureHeadsNetwork<Tensor> network, IFrozenPrefixNetwork prefix,
        ClassifierPlan plan, ClassifierData data, int seed, Device device, IChannel channel)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reported = TimeSpan.Zero;
        long rows = 0, total = data.TrainRows + data.ValidationRows;
        network.Module.to(device);
        var cached = FrozenFeaturesNetwork.Cache(plan, prefix, TrainerOptions, seed, device, batch =>
        {
            rows += batch;
            if (clock.Elapsed - reported < TrainerOptions.ReportInterval) return;
            reported = clock.Elapsed;
            channel.Info(MessageSensitivity.None, $"Computing the frozen layers' output once: {rows:N0} of {total:N0} rows in {clock.Elapsed:mm\\:ss}.");
        });
        if (cached is null) return (network, data);
        channel.Info(MessageSensitivity.None, $"Computed the frozen layers' output for every row once in {clock.Elapsed:mm\\:ss}; training starts from it.");
        return (new FrozenFeaturesNetwork(network, prefix), cached);
    }

    /// <summary>The input schema plus <c>Score</c> (vector of Single, one per class) and <c>PredictedLabel</c> (the label's key type), after checking the input columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var options = TrainerOptions;
        var label = inputSchema.FirstOrDefault(c => c.Name == options.LabelColumnName);
        if (label.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{options.LabelColumnName}' not found.");
        if (!label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Label column '{options.LabelColumnName}' must be a key type; use MapValueToKey(\"{options.LabelColumnName}\").");
        CheckInputColumns(inputSchema);

        // SchemaShape.Column cannot be built outside ML.NET; two standard estimators produce exactly our two columns'
        // shapes: a copy of the label (the predicted key) and its one-hot vector (a float per class, like Score).
        var shapes = new MLContext();
        return shapes.Transforms.CopyColumns(options.PredictedLabelColumnName, options.LabelColumnName)
            .Append(shapes.Transforms.Conversion.MapKeyToVector(options.ScoreColumnName, options.LabelColumnName))
            .GetOutputSchema(inputSchema);
    }

    /// <summary>The initial model, checked against this trainer, the label's classes and the options, or null.</summary>
    private MixtureHeadsCheckpoint? CheckInitialModel(MixtureHeadsCheckpoint? initial, IReadOnlyList<string> classNames)
    {
        if (initial is null) return null;
        if (!Kinds.Contains(initial.Kind))
            throw new ArgumentException($"InitialModel ({initial.Source}) is a '{initial.Kind}' model; {ComponentName} trains {string.Join(" or ", Kinds.Select(k => $"'{k}'"))}.", nameof(TrainerOptions));
        if (initial.ClassNames is not { } initialClasses)
            throw new ArgumentException($"InitialModel ({initial.Source}) is not a classifier: it records no class names.", nameof(TrainerOptions));
        if (!initialClasses.SequenceEqual(classNames))
            throw new ArgumentException($"InitialModel was trained on classes [{string.Join(", ", initialClasses)}]; the label column has [{string.Join(", ", classNames)}].", nameof(TrainerOptions));
        var conflicts = OptionsConflictingWith(initial.Config).ToList();
        if (conflicts.Count > 0)
            throw new ArgumentException($"InitialModel decides the architecture, so leave these options unset: {string.Join("; ", conflicts)}.", nameof(TrainerOptions));
        return initial;
    }

    private static IMixtureHeadsNetwork<Tensor> InitialNetwork(MixtureHeadsCheckpoint initial)
    {
        var network = initial.CreateNetwork();
        if (network is IMixtureHeadsNetwork<Tensor> typed) return typed;
        network.Dispose();
        throw new ArgumentException($"InitialModel ({initial.Source}) holds a '{initial.Kind}' network that does not read one tensor.", nameof(initial));
    }

    /// <summary>The validation set's label reader, after checking that it has the training data's input columns.</summary>
    private Func<DataViewRowCursor, Func<long>> CheckValidationSet(IDataView validationSet, DataViewSchema training, IReadOnlyList<string> classNames)
    {
        var labels = LabelColumn.ValidationReader(validationSet.Schema, TrainerOptions.LabelColumnName, classNames);
        foreach (string name in InputColumnNames)
        {
            var expected = training[name].Type;
            var column = validationSet.Schema.GetColumnOrNull(name)
                ?? throw new ArgumentOutOfRangeException(nameof(TrainerOptions), $"Column '{name}' not found in the validation data (columns: {string.Join(", ", validationSet.Schema.Select(c => c.Name))}).");
            if (!column.Type.Equals(expected))
                throw new ArgumentOutOfRangeException(nameof(TrainerOptions), $"Column '{name}' of the validation data has type {column.Type}; the training data has {expected}.");
        }
        return labels;
    }

    private static void CheckOptions(ClassifierOptionsBase o)
    {
        void Require(bool ok, string name, string problem) { if (!ok) throw new ArgumentOutOfRangeException(name, $"{name} {problem}"); }
        Require(o.Epochs >= 1, nameof(o.Epochs), $"must be at least 1, got {o.Epochs}.");
        Require(o.BatchSize >= 1, nameof(o.BatchSize), $"must be at least 1, got {o.BatchSize}.");
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), $"must be positive, got {o.LearningRate}.");
        Require(o.WeightDecay >= 0, nameof(o.WeightDecay), $"must not be negative, got {o.WeightDecay}.");
        Require(o.WarmupEpochs >= 0, nameof(o.WarmupEpochs), $"must not be negative, got {o.WarmupEpochs}.");
        Require(o.MinLearningRateRatio is >= 0 and <= 1, nameof(o.MinLearningRateRatio), $"must be in [0, 1], got {o.MinLearningRateRatio}.");
        Require(o.LabelSmoothing is >= 0 and < 1, nameof(o.LabelSmoothing), $"must be in [0, 1), got {o.LabelSmoothing}.");
        Require(o.GradientClipNorm >= 0, nameof(o.GradientClipNorm), $"must not be negative, got {o.GradientClipNorm}.");
        Require(o.BalanceLossWeight >= 0, nameof(o.BalanceLossWeight), $"must not be negative, got {o.BalanceLossWeight}.");
        Require(o.ValidationFraction is >= 0 and < 1, nameof(o.ValidationFraction), $"must be in [0, 1), got {o.ValidationFraction}.");
        Require(o.EarlyStoppingPatience >= 0, nameof(o.EarlyStoppingPatience), $"must not be negative, got {o.EarlyStoppingPatience}.");
        Require(o.EarlyStoppingPatience == 0 || o.ValidationSet is not null || o.ValidationFraction > 0, nameof(o.EarlyStoppingPatience),
            "needs validation data: set ValidationSet or ValidationFraction.");
        Require(o.Threads is null or >= 1, nameof(o.Threads), $"must be at least 1 when set, got {o.Threads}.");
        Require(Enum.IsDefined(o.Precision), nameof(o.Precision), $"must be Auto, Float32 or BFloat16, got {o.Precision}.");
        Require(o.MaxInMemoryDataBytes >= 0, nameof(o.MaxInMemoryDataBytes), $"must not be negative, got {o.MaxInMemoryDataBytes}.");
        Require(o.CheckpointEverySteps >= 1, nameof(o.CheckpointEverySteps), $"must be at least 1, got {o.CheckpointEverySteps}.");
        Require(o.ReportInterval > TimeSpan.Zero, nameof(o.ReportInterval), $"must be positive, got {o.ReportInterval}.");
        Require(!string.IsNullOrWhiteSpace(o.LabelColumnName), nameof(o.LabelColumnName), "must name a column.");
        Require(!string.IsNullOrWhiteSpace(o.ScoreColumnName), nameof(o.ScoreColumnName), "must name a column.");
        Require(!string.IsNullOrWhiteSpace(o.PredictedLabelColumnName), nameof(o.PredictedLabelColumnName), "must name a column.");
    }
}
