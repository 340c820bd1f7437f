using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>How a trainer feeds its network: the ML.NET stages before the ONNX graph and the column the graph reads.</summary>
/// <param name="Stages">Standard (or stateless) ML.NET stages that produce <paramref name="InputColumn"/>; null when the user's column is used as it is.</param>
/// <param name="InputColumn">The column the network reads (also the ONNX input name).</param>
/// <param name="TemporaryColumns">Columns the stages add that the fitted model drops again.</param>
/// <param name="BatchInput">Builds the batched ONNX input for in-process scoring.</param>
/// <param name="RowShape">The fixed shape of one row's input tensor, e.g. [C, H, W]; empty for variable-length token rows.</param>
internal sealed record NetworkInput(IEstimator<ITransformer>? Stages, string InputColumn, IReadOnlyList<string> TemporaryColumns,
    Func<IBatchInput> BatchInput, long[] RowShape);

/// <summary>
/// The fitting flow every Mixture-of-Heads classifier shares: check the schema up front, featurise with ML.NET
/// stages, read the rows into tensors, hold out validation data, train with <see cref="ClassifierTrainingLoop"/>,
/// export the network to ONNX and wrap it in standard ML.NET stages. A trainer supplies the input handling and the network.
/// </summary>
public abstract class ClassifierTrainerBase<TTransformer, TOptions> : IEstimator<TTransformer>
    where TTransformer : MixtureHeadsClassificationTransformer
    where TOptions : TrainerOptionsBase
{
    private readonly IHostEnvironment _environment;

    /// <summary>The options this trainer fits with.</summary>
    public TOptions TrainerOptions { get; }

    /// <summary>Builds the standard ML.NET stages of the fitted model (set in <see cref="Fit"/>, seeded).</summary>
    private protected MLContext StageContext { get; private set; } = new(seed: 0);

    private protected ClassifierTrainerBase(IHostEnvironment environment, TOptions options)
    {
        _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        TrainerOptions = options ?? throw new ArgumentNullException(nameof(options));
        CheckOptions(options);
    }

    private protected abstract string ComponentName { get; }

    /// <summary>The ML.NET stages and ONNX input for this schema; throws naming the column when its type is wrong.</summary>
    private protected abstract NetworkInput PrepareInput(DataViewSchema schema);

    /// <summary>Reads the network input column of every row into one CPU tensor [N, ...].</summary>
    private protected abstract Tensor ReadInputs(IDataView featurized, NetworkInput input);

    /// <summary>A freshly initialised network (or the options' initial model) for <paramref name="classNames"/>; it may
    /// learn what it needs from the training inputs (a text model its vocabulary).</summary>
    private protected abstract ClassifierNetwork CreateNetwork(IReadOnlyList<string> classNames, DataViewSchema schema, TrainingTensors train);

    /// <summary>Training-time augmentation of an input batch, or null.</summary>
    private protected virtual Func<Tensor, Generator, Tensor>? Augmentation => null;

    private protected abstract TTransformer CreateTransformer(FittedClassifier fitted);

    /// <summary>Checks the trainer-specific input column in a schema shape.</summary>
    private protected abstract void CheckInputColumn(SchemaShape inputSchema);

    /// <summary>Trains the network on <paramref name="input"/> and returns the fitted transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or has the wrong type (the message names it).</exception>
    /// <exception cref="ArgumentException">The data has no rows, or the options are inconsistent.</exception>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var options = TrainerOptions;
        var labelColumn = LabelColumn.Check(input.Schema, options.LabelColumnName);
        var classNames = LabelColumn.ClassNames(labelColumn);

        var host = _environment.Register(ComponentName);
        using var channel = host.Start("Training");
        int seed = options.Seed ?? host.Rand.Next();
        StageContext = new MLContext(seed);
        var networkInput = PrepareInput(input.Schema);
        if (options.Threads is int threads) torch.set_num_threads(threads);

        var preprocessing = networkInput.Stages?.Fit(input);
        channel.Info(MessageSensitivity.None, "Reading the training data into tensors...");
        var all = ReadTensors("training", input, preprocessing, networkInput, LabelColumn.ReadIndices(input, options.LabelColumnName));
        var (train, validation) = SplitValidation(all, preprocessing, networkInput, classNames, seed);
        channel.Info(MessageSensitivity.None, $"{train.Count} training rows, {validation?.Count ?? 0} validation rows, {classNames.Length} classes.");

        var network = CreateNetwork(classNames, input.Schema, train);
        try
        {
            var settings = new LoopSettings(options, seed, ResolveDevice(options.Device), Augmentation, channel);
            var summary = ClassifierTrainingLoop.Run(network, train, validation, settings);
            network.to(CPU);
            byte[] onnx = ExportedModel.Export(network, classNames, networkInput.InputColumn, options.ScoreColumnName, PredictedLabelMapping.IndexColumn);
            var columns = new ScoringColumns(networkInput.InputColumn, options.ScoreColumnName, options.PredictedLabelColumnName, classNames);
            string onnxFile = TemporaryModelFiles.Write(onnx);
            var chain = ScoringChain.Build(StageContext, input, preprocessing, onnxFile, columns, networkInput.TemporaryColumns);
            return CreateTransformer(new FittedClassifier(chain, preprocessing, networkInput.BatchInput, onnx, onnxFile, columns, network, summary));
        }
        catch
        {
            network.Dispose();
            throw;
        }
        finally
        {
            DisposeTensors(train, validation, all);
        }
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
        CheckInputColumn(inputSchema);

        // SchemaShape.Column cannot be built outside ML.NET; two standard estimators produce exactly our two columns'
        // shapes: a copy of the label (the predicted key) and its one-hot vector (a float per class, like Score).
        var shapes = new MLContext();
        return shapes.Transforms.CopyColumns(options.PredictedLabelColumnName, options.LabelColumnName)
            .Append(shapes.Transforms.Conversion.MapKeyToVector(options.ScoreColumnName, options.LabelColumnName))
            .GetOutputSchema(inputSchema);
    }

    private TrainingTensors ReadTensors(string role, IDataView data, ITransformer? preprocessing, NetworkInput networkInput, long[] labels)
    {
        if (labels.Length == 0) throw new ArgumentException($"The {ComponentName} {role} data has no rows.", nameof(data));
        var inputs = ReadInputs(preprocessing?.Transform(data) ?? data, networkInput);
        if (inputs.shape[0] != labels.Length)
            throw new InvalidOperationException($"Read {inputs.shape[0]} inputs but {labels.Length} labels.");
        return new TrainingTensors(inputs, tensor(labels));
    }

    private (TrainingTensors Train, TrainingTensors? Validation) SplitValidation(
        TrainingTensors all, ITransformer? preprocessing, NetworkInput networkInput, string[] classNames, int seed)
    {
        if (TrainerOptions.ValidationSet is { } validationSet)
        {
            var labels = LabelColumn.ReadIndicesInClasses(validationSet, TrainerOptions.LabelColumnName, classNames);
            return (all, ReadTensors("validation", validationSet, preprocessing, networkInput, labels));
        }
        if (TrainerOptions.ValidationFraction <= 0) return (all, null);

        long held = (long)Math.Round(all.Count * TrainerOptions.ValidationFraction);
        if (held < 1 || held >= all.Count)
            throw new ArgumentException($"ValidationFraction {TrainerOptions.ValidationFraction} of {all.Count} rows leaves no training or no validation rows.", nameof(TrainerOptions));
        using var generator = new Generator((ulong)seed + 1);
        using var order = randperm(all.Count, generator: generator);
        using var validationRows = order.narrow(0, 0, held);
        using var trainRows = order.narrow(0, held, all.Count - held);
        return (new TrainingTensors(all.Inputs.index_select(0, trainRows), all.Labels.index_select(0, trainRows)),
                new TrainingTensors(all.Inputs.index_select(0, validationRows), all.Labels.index_select(0, validationRows)));
    }

    private static void DisposeTensors(params TrainingTensors?[] sets)
    {
        foreach (var set in sets.Where(s => s is not null).Distinct())
        {
            set!.Inputs.Dispose();
            set.Labels.Dispose();
        }
    }

    private static Device ResolveDevice(string device) => device.Trim().ToLowerInvariant() switch
    {
        "auto" => cuda.is_available() ? CUDA : CPU,
        "cpu" => CPU,
        var name when name.StartsWith("cuda", StringComparison.Ordinal) => cuda.is_available()
            ? torch.device(name)
            : throw new ArgumentException($"Device '{device}' was asked for, but TorchSharp has no CUDA backend here (reference a TorchSharp-cuda package).", nameof(device)),
        _ => throw new ArgumentException($"Device '{device}' is not cpu, cuda, cuda:N or auto.", nameof(device)),
    };

    private static void CheckOptions(TrainerOptionsBase o)
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
        Require(!string.IsNullOrWhiteSpace(o.LabelColumnName), nameof(o.LabelColumnName), "must name a column.");
        Require(!string.IsNullOrWhiteSpace(o.ScoreColumnName), nameof(o.ScoreColumnName), "must name a column.");
        Require(!string.IsNullOrWhiteSpace(o.PredictedLabelColumnName), nameof(o.PredictedLabelColumnName), "must name a column.");
    }
}
