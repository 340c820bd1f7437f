using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Novelty scoring with a Mixture-of-Heads language model: <c>Fit</c> trains a byte-level <see cref="MoHCausalLM"/> on a
/// text column (next-token prediction on the shared training loop), or loads one from a safetensors checkpoint, and the
/// fitted transformer adds per-row <c>LogLikelihood</c> (mean ln p per token: low for text unlike the training text),
/// <c>Perplexity</c> (exp(-LogLikelihood)) and <c>TokenCount</c> (the tokens scored), as
/// <see cref="CausalLMLikelihood"/> defines them; an empty text scores the prediction that it ends at once, so no row
/// gets NaN. The saved model is ML.NET stages (byte tokenization, ML.NET's <c>OnnxTransformer</c> over the exported graph)
/// and loads with <c>mlContext.Model.Load</c> in an app that references only the scoring package. Training holds the
/// column's text in memory as one byte stream (rows joined by the end-of-text id), as <see cref="CausalLMTraining"/> does.
/// </summary>
public sealed class MoHLanguageModelScoringEstimator : IEstimator<MoHLanguageModelScoringTransformer>
{
    /// <summary>Options of <see cref="MoHLanguageModelScoringEstimator"/>; every field has a working default.</summary>
    public sealed class Options : TrainerOptionsBase
    {
        internal const string DefaultArchitecture = "moh_lm_tiny_75";

        /// <summary>Options with the scorer's defaults: architecture "moh_lm_tiny_75", 3 epochs, batch 16, learning rate 3e-3.</summary>
        public Options() => (Epochs, BatchSize, LearningRate, WarmupEpochs, WeightDecay) = (3, 16, 3e-3, 0.1, 0.01);

        /// <summary>The text column, read as UTF-8 bytes. Default "Text".</summary>
        public string TextColumnName = "Text";

        /// <summary>The output column of mean per-token log-probability (nats, at most 0). Default "LogLikelihood".</summary>
        public string LogLikelihoodColumnName = "LogLikelihood";

        /// <summary>The output column of exp(-LogLikelihood). Default "Perplexity".</summary>
        public string PerplexityColumnName = "Perplexity";

        /// <summary>The output column of the number of tokens scored (bytes + 1, at most the model's MaxLength). Default "TokenCount".</summary>
        public string TokenCountColumnName = "TokenCount";

        /// <summary>A registered causal-LM architecture (<c>ModelRegistry.List(configType: typeof(CausalLMConfig))</c>); its
        /// vocabulary is set to the byte tokenizer's 257 ids. Default "moh_lm_tiny_75".</summary>
        public string Architecture = DefaultArchitecture;

        /// <summary>The model's context (bytes scored per text, the rest is cut); null keeps the architecture's. Default null.</summary>
        public int? MaxLength;

        /// <summary>Tokens per training window (documents are packed end to end); at most the model's MaxLength. Default 128.</summary>
        public int SequenceLength = 128;

        /// <summary>
        /// A checkpoint folder (model.safetensors + config.json, from <see cref="CausalLMCheckpoint.Save"/> or
        /// python/mixtureheads_lm) of a byte-level model to score with instead of training one: its architecture replaces
        /// <see cref="Architecture"/> and <see cref="MaxLength"/>, and <c>Fit</c> does not train unless
        /// <see cref="TrainFromCheckpoint"/> is set. Default none.
        /// </summary>
        public string? Checkpoint;

        /// <summary>With a <see cref="Checkpoint"/>, continue training it on the text column before scoring. Default false.</summary>
        public bool TrainFromCheckpoint;
    }

    private readonly IHostEnvironment _environment;

    internal MoHLanguageModelScoringEstimator(IHostEnvironment environment, Options options)
    {
        _environment = environment ?? throw new ArgumentNullException(nameof(environment));
        ScoringOptions = options ?? throw new ArgumentNullException(nameof(options));
        CheckOptions(options);
        if (options.Checkpoint is null) Architecture(options);   // an unknown name fails here
    }

    /// <summary>The options this estimator fits with.</summary>
    public Options ScoringOptions { get; }

    /// <summary>Trains (or loads) the language model and returns the scoring transformer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The text column is missing or not text (the message names it), or the checkpoint is unusable.</exception>
    /// <exception cref="ArgumentException">The data holds too little text to train on.</exception>
    public MoHLanguageModelScoringTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var options = ScoringOptions;
        var text = TextColumn(input.Schema, options.TextColumnName, "training");
        if (options.ValidationSet is { } validationSet) TextColumn(validationSet.Schema, options.TextColumnName, "validation");
        Platform.LibTorchSharpRuntime.EnsureLoaded();

        var host = _environment.Register("MoHLanguageModelScoring");
        using var channel = host.Start("Training");
        int seed = options.Seed ?? host.Rand.Next();
        var context = ContextSettings.Of(_environment, host, channel);
        using var threads = LibTorchThreads.Use(options.Threads);
        manual_seed(seed);
        var model = options.Checkpoint is { } folder ? LoadCheckpoint(folder) : (MoHCausalLM)ModelRegistry.Create(Architecture(options));
        try
        {
            CausalLMTrainingResult? training = null;
            if (options.Checkpoint is null || options.TrainFromCheckpoint)
            {
                var (trainTokens, validationTokens) = ReadTokens(input, options.ValidationSet, options, seed);
                int window = Math.Min(options.SequenceLength, model.Config.MaxLength);
                RequireTokens(trainTokens, window, "training");
                if (validationTokens is not null) RequireTokens(validationTokens, window, "validation");
                channel.Info(MessageSensitivity.None, $"Training on {trainTokens.Length:N0} bytes ({validationTokens?.Length ?? 0:N0} validation bytes), windows of {window}.");
                var device = TrainingDevice.Resolve(options.Device, context, channel);
                training = CausalLMTraining.Train(model, trainTokens, validationTokens, window, new LoopSettings(options, seed, device, channel, context.IsCancelled));
            }
            model.to(CPU);
            model.eval();
            var columns = new LanguageModelScoringColumns(options.LogLikelihoodColumnName, options.PerplexityColumnName, options.TokenCountColumnName);
            byte[] onnx = LanguageModelScoringChain.Export(model, columns);
            string onnxFile = TemporaryModelFiles.Write(onnx, context.TempFilePath);
            var stages = new MLContext(seed) { TempFilePath = context.TempFilePath ?? Path.GetTempPath() };
            var chain = LanguageModelScoringChain.Build(stages, input, text, onnxFile, columns);
            return new MoHLanguageModelScoringTransformer(chain, onnx, onnxFile, model, options.TextColumnName, training);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The input schema plus the three Single output columns, after checking the text column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The text column is missing or not a scalar text column.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var options = ScoringOptions;
        var column = inputSchema.FirstOrDefault(c => c.Name == options.TextColumnName);
        if (column.Name is null)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{options.TextColumnName}' not found.");
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{options.TextColumnName}' has type {column.ItemType} ({column.Kind}); expected String (text).");
        // SchemaShape.Column cannot be built outside ML.NET; converting the text to Single gives exactly our columns' shapes.
        var shapes = new MLContext();
        return shapes.Transforms.Conversion.ConvertType(
            [new(options.LogLikelihoodColumnName, options.TextColumnName), new(options.PerplexityColumnName, options.TextColumnName), new(options.TokenCountColumnName, options.TextColumnName)],
            DataKind.Single).GetOutputSchema(inputSchema);
    }

    /// <summary>The bytes of every row's text, each followed by the end-of-text id: the training stream and, when asked
    /// for, the validation stream (the validation set, or every row drawn into <c>ValidationFraction</c>).</summary>
    private static (long[] Train, long[]? Validation) ReadTokens(IDataView input, IDataView? validationSet, Options options, int seed)
    {
        var train = new List<long>();
        var validation = validationSet is not null || options.ValidationFraction > 0 ? new List<long>() : null;
        var random = new Random(unchecked(seed + 1));
        var codec = new ByteTokenizer();
        foreach (string text in Texts(input, options.TextColumnName))
        {
            var target = validationSet is null && validation is not null && random.NextDouble() < options.ValidationFraction ? validation : train;
            target.AddRange(codec.Encode(text));
            target.Add(ByteTokenizer.EndOfText);
        }
        if (validationSet is not null)
        {
            foreach (string text in Texts(validationSet, options.TextColumnName))
            {
                validation!.AddRange(codec.Encode(text));
                validation.Add(ByteTokenizer.EndOfText);
            }
        }
        return ([.. train], validation is null ? null : [.. validation]);
    }

    private static IEnumerable<string> Texts(IDataView data, string column)
    {
        var text = data.Schema[column];
        using var cursor = data.GetRowCursor([text]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(text);
        ReadOnlyMemory<char> value = default;
        while (cursor.MoveNext())
        {
            getter(ref value);
            yield return value.ToString();
        }
    }

    private void RequireTokens(long[] tokens, int window, string dataSet)
    {
        if (tokens.Length < window + 1)
            throw new ArgumentException(
                $"The {dataSet} data's text column '{ScoringOptions.TextColumnName}' holds {tokens.Length:N0} bytes with the text ends; " +
                $"training needs at least one window of {window + 1} (set SequenceLength lower, or give more text).", nameof(ScoringOptions));
    }

    private static DataViewSchema.Column TextColumn(DataViewSchema schema, string name, string dataSet)
    {
        var column = schema.GetColumnOrNull(name)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{name}' not found in the {dataSet} data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        if (column.Type is not TextDataViewType)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{name}' of the {dataSet} data has type {column.Type}; expected String (text).");
        return column;
    }

    private static MoHCausalLM LoadCheckpoint(string folder)
    {
        MoHCausalLM model;
        try
        {
            model = CausalLMCheckpoint.Load(folder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.Checkpoint), $"Checkpoint '{folder}': {e.Message}");
        }
        if (model.Config.VocabularySize < ByteTokenizer.VocabularySize)
        {
            model.Dispose();
            throw new ArgumentOutOfRangeException(nameof(Options.Checkpoint),
                $"Checkpoint '{folder}' has a vocabulary of {model.Config.VocabularySize} ids; scoring text reads bytes, which needs {ByteTokenizer.VocabularySize}.");
        }
        return model;
    }

    /// <summary>The registered architecture with the byte vocabulary and the options' MaxLength.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No causal-LM architecture has that name (the message lists those that do).</exception>
    private static CausalLMConfig Architecture(Options options)
    {
        string name = options.Architecture;
        var names = ModelRegistry.List(configType: typeof(CausalLMConfig));
        if (name is null || !names.Contains(name, StringComparer.Ordinal))
            throw new ArgumentOutOfRangeException(nameof(options), $"No causal language-model architecture named '{name}'. Registered: {string.Join(", ", names)}.");
        var config = ModelRegistry.Get<CausalLMConfig>(name);
        return config with { VocabularySize = ByteTokenizer.VocabularySize, MaxLength = options.MaxLength ?? config.MaxLength };
    }

    private static void CheckOptions(Options o)
    {
        void Require(bool ok, string name, string problem) { if (!ok) throw new ArgumentOutOfRangeException(name, $"{name} {problem}"); }
        Require(o.Epochs >= 1, nameof(o.Epochs), $"must be at least 1, got {o.Epochs}.");
        Require(o.BatchSize >= 1, nameof(o.BatchSize), $"must be at least 1, got {o.BatchSize}.");
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), $"must be positive, got {o.LearningRate}.");
        Require(o.SequenceLength >= 1, nameof(o.SequenceLength), $"must be at least 1, got {o.SequenceLength}.");
        Require(o.MaxLength is null or >= 1, nameof(o.MaxLength), $"must be at least 1 when set, got {o.MaxLength}.");
        Require(o.ValidationFraction is >= 0 and < 1, nameof(o.ValidationFraction), $"must be in [0, 1), got {o.ValidationFraction}.");
        Require(o.Threads is null or >= 1, nameof(o.Threads), $"must be at least 1 when set, got {o.Threads}.");
        Require(!string.IsNullOrWhiteSpace(o.TextColumnName), nameof(o.TextColumnName), "must name a column.");
        string[] outputs = [o.LogLikelihoodColumnName, o.PerplexityColumnName, o.TokenCountColumnName];
        Require(outputs.All(n => !string.IsNullOrWhiteSpace(n) && !n.StartsWith(ScoringColumns.ReservedPrefix, StringComparison.Ordinal)) && outputs.Distinct().Count() == 3,
            "output column names", $"must be three distinct names that do not begin with '{ScoringColumns.ReservedPrefix}'; got {string.Join(", ", outputs)}.");
        Require(o.EarlyStoppingPatience == 0 || o.ValidationSet is not null || o.ValidationFraction > 0, nameof(o.EarlyStoppingPatience),
            "needs validation data: set ValidationSet or ValidationFraction.");
    }
}
