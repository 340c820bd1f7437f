using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Trains a Mixture-of-Head attention text classifier (<see cref="MoHTextEncoder"/>). Input: a key-typed label and
/// one text column (or two, for sentence-pair tasks). Texts are tokenized with cl100k_base by a stateless stage; the
/// compact vocabulary learned from the training texts and the maximum length live inside the exported graph, so the
/// saved model needs nothing registered to load. Output: <c>Score</c> and <c>PredictedLabel</c>.
/// </summary>
public sealed class MoHTextClassificationTrainer
    : ClassifierTrainerBase<MoHTextClassificationTransformer, MoHTextClassificationTrainer.Options>
{
    /// <summary>Options of <see cref="MoHTextClassificationTrainer"/>; every field has a working default.</summary>
    public sealed class Options : TrainerOptionsBase
    {
        /// <summary>The text column. Default "Text".</summary>
        public string TextColumnName = "Text";

        /// <summary>A second text column for sentence-pair tasks (tokenized as [start] first [sep] second). Default none.</summary>
        public string? SecondTextColumnName;

        /// <summary>A registered architecture (see <see cref="ModelRegistry.TextEncoders"/>). Default "moh_text_tiny_75".</summary>
        public string Architecture = "moh_text_tiny_75";

        /// <summary>A custom architecture; when set it replaces <see cref="Architecture"/>. Classes and vocabulary size are set from the data.</summary>
        public TextEncoderConfig? Model;

        /// <summary>Tokens the model reads per text (the rest is cut); null keeps the architecture's. Default null.</summary>
        public int? MaxLength;

        /// <summary>A token joins the vocabulary when it occurs at least this often in the training texts. Default 2.</summary>
        public int VocabularyMinCount = 2;

        /// <summary>The largest vocabulary (embedding rows, 4 reserved ones included). Default 16384.</summary>
        public int VocabularyMaxSize = 16384;

        /// <summary>Continue training from this checkpoint (its vocabulary is kept). Default none.</summary>
        public MixtureHeadsCheckpoint? InitialModel;
    }

    internal MoHTextClassificationTrainer(IHostEnvironment environment, Options options) : base(environment, options)
    {
        if (options.VocabularyMinCount < 1) throw new ArgumentOutOfRangeException(nameof(options), $"VocabularyMinCount must be at least 1, got {options.VocabularyMinCount}.");
        if (options.VocabularyMaxSize < CompactVocabulary.ReservedCount + 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"VocabularyMaxSize must be at least {CompactVocabulary.ReservedCount + 1}, got {options.VocabularyMaxSize}.");
        if (options.MaxLength is < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxLength must be at least 1, got {options.MaxLength}.");
        if (options.InitialModel is null && options.Model is null) ModelRegistry.TextEncoder(options.Architecture); // unknown name fails here
    }

    private protected override string ComponentName => "MoHTextClassification";

    /// <summary>The architecture before the data sets its classes and vocabulary.</summary>
    private TextEncoderConfig BaseConfig()
    {
        if (TrainerOptions.InitialModel is { } initial)
        {
            if (initial.Kind != MoHTextEncoder.KindName)
                throw new ArgumentException($"InitialModel is a '{initial.Kind}' model, not a text classifier.", nameof(Options.InitialModel));
            return ModelJson.Deserialize<TextEncoderConfig>(initial.ConfigJson, nameof(Options.InitialModel));
        }
        var config = TrainerOptions.Model ?? ModelRegistry.TextEncoder(TrainerOptions.Architecture);
        return config with { MaxLength = TrainerOptions.MaxLength ?? config.MaxLength };
    }

    private DataViewSchema.Column TextColumn(DataViewSchema schema, string name) =>
        schema.GetColumnOrNull(name)
        ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Text column '{name}' not found in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");

    private protected override NetworkInput PrepareInput(DataViewSchema schema)
    {
        var first = TextColumn(schema, TrainerOptions.TextColumnName);
        var (stages, column, temporary) = TrainerOptions.SecondTextColumnName is { } second
            ? TextInput.Stages(StageContext, first, TextColumn(schema, second))
            : TextInput.Stages(StageContext, first);
        return new NetworkInput(stages, column, temporary, () => new TokenBatchInput(column), RowShape: []);
    }

    private protected override Tensor ReadInputs(IDataView featurized, NetworkInput input) =>
        TokenBatch.StageIds(TokenIdReader.ReadAll(featurized, input.InputColumn), BaseConfig().MaxLength);

    private protected override ClassifierNetwork CreateNetwork(IReadOnlyList<string> classNames, DataViewSchema schema, TrainingTensors train)
    {
        if (TrainerOptions.InitialModel is { } initial)
        {
            if (!initial.ClassNames.SequenceEqual(classNames))
                throw new ArgumentException($"InitialModel was trained on classes [{string.Join(", ", initial.ClassNames)}]; the label column has [{string.Join(", ", classNames)}].", nameof(Options.InitialModel));
            return initial.CreateNetwork();
        }
        var vocabulary = CompactVocabulary.Build(TokenBatch.Rows(train.Inputs), TrainerOptions.VocabularyMinCount, TrainerOptions.VocabularyMaxSize);
        var config = BaseConfig() with { Classes = classNames.Count, VocabularySize = vocabulary.Size };
        return new MoHTextEncoder(config, vocabulary);
    }

    private protected override void CheckInputColumn(SchemaShape inputSchema)
    {
        foreach (string? name in new[] { TrainerOptions.TextColumnName, TrainerOptions.SecondTextColumnName })
        {
            if (name is null) continue;
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
