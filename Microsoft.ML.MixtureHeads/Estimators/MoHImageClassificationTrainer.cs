using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Trains a Mixture-of-Head attention vision transformer (<see cref="MoHVisionTransformer"/>) to classify images.
/// Input: a key-typed label and an image column holding encoded bytes (as <c>LoadRawImageBytes</c> gives), images
/// (<c>LoadImages</c>) or a known-size float vector of pixels 0-255. Output: <c>Score</c> (class probabilities) and
/// <c>PredictedLabel</c> (key; <c>MapKeyToValue</c> gives back the class names).
/// </summary>
public sealed class MoHImageClassificationTrainer
    : ClassifierTrainerBase<MoHImageClassificationTransformer, MoHImageClassificationTrainer.Options>
{
    /// <summary>Options of <see cref="MoHImageClassificationTrainer"/>; every field has a working default.</summary>
    public sealed class Options : ClassifierOptionsBase
    {
        internal const string DefaultArchitecture = "moh_vit_tiny_75";
        internal const int DefaultEpochs = 10, DefaultBatchSize = 64;
        internal const double DefaultLearningRate = 1e-3;

        /// <summary>Options with the image trainer's defaults: architecture "moh_vit_tiny_75", 10 epochs, batch 64, learning rate 1e-3.</summary>
        public Options() : base(DefaultArchitecture, DefaultEpochs, DefaultBatchSize, DefaultLearningRate) { }

        /// <summary>The image column: encoded bytes, images or a pixel vector. Default "Image".</summary>
        public string ImageColumnName = "Image";

        /// <summary>A custom architecture; when set it replaces <see cref="ClassifierOptionsBase.Architecture"/>. Its class count is set from the label.</summary>
        public VisionTransformerConfig? Model;

        /// <summary>Image side the model sees; null takes the pixel vector's dimensions, else the architecture's.</summary>
        public int? ImageSize;

        /// <summary>1 (grayscale) or 3 (RGB); null takes the pixel vector's dimensions, else the architecture's.</summary>
        public int? ImageChannels;

        /// <summary>Zero padding (pixels per side) before a random crop back to size during training; 0 = off. It helps
        /// long schedules and slows short ones (docs/decisions.md). Default 0.</summary>
        public int CropPadding;

        /// <summary>Randomly flip half the training images left-right. Turn off for digits, text or anything whose class a flip changes. Default true.</summary>
        public bool HorizontalFlip = true;
    }

    internal MoHImageClassificationTrainer(IHostEnvironment environment, Options options) : base(environment, options)
    {
        if (options.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(options), $"CropPadding must not be negative, got {options.CropPadding}.");
        if (options.InitialModel is null && options.Model is null) ModelRegistry.Get<VisionTransformerConfig>(options.Architecture); // unknown name fails here
    }

    private protected override string ComponentName => "MoHImageClassification";

    private protected override IReadOnlyList<string> Kinds => [MoHVisionTransformer.KindName];

    private protected override IReadOnlyList<string> InputColumnNames => [TrainerOptions.ImageColumnName];

    private protected override Func<Tensor, Generator, Tensor>? Augmentation =>
        TrainerOptions.CropPadding == 0 && !TrainerOptions.HorizontalFlip ? null : new ImageAugmentation(TrainerOptions.CropPadding, TrainerOptions.HorizontalFlip).Apply;

    private protected override IEnumerable<string> OptionsConflictingWith(ModelConfig initialConfig)
    {
        var config = (VisionTransformerConfig)initialConfig;
        if (TrainerOptions.Model is { } model && model with { Classes = config.Classes, ImageSize = config.ImageSize, Channels = config.Channels } != config)
            yield return "Model (an architecture other than the initial model's)";
        if (TrainerOptions.ImageSize is { } size && size != config.ImageSize) yield return $"ImageSize = {size} (the model takes {config.ImageSize})";
        if (TrainerOptions.ImageChannels is { } channels && channels != config.Channels) yield return $"ImageChannels = {channels} (the model takes {config.Channels})";
    }

    private protected override ClassifierPlan Plan(MLContext stages, DataViewSchema schema, ModelConfig? initialConfig)
    {
        var column = schema.GetColumnOrNull(TrainerOptions.ImageColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{TrainerOptions.ImageColumnName}' not found in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");
        var config = initialConfig as VisionTransformerConfig ?? SizedToData(column);
        var shape = new ImageShape(config.Channels, config.ImageSize, config.ImageSize);
        var (stagesToPixels, pixelColumn, temporary) = ImageInput.Stages(stages, column, shape);
        long[] rowShape = [shape.Channels, shape.Height, shape.Width];
        return new ClassifierPlan<float[]>(stagesToPixels, new PixelInput(pixelColumn, rowShape), temporary, 4L * shape.Size + 32,
            (classNames, _) => new MoHVisionTransformer(config with { Classes = classNames.Count }));
    }

    /// <summary>The custom or registered architecture, sized to the image column and the options.</summary>
    private VisionTransformerConfig SizedToData(DataViewSchema.Column column)
    {
        var config = TrainerOptions.Model ?? ModelRegistry.Get<VisionTransformerConfig>(TrainerOptions.Architecture);
        var fromVector = ImageInput.ShapeOfPixelVector(column.Type);
        if (fromVector is not null && fromVector.Height != fromVector.Width)
            throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column.Name}' holds {fromVector.Height}x{fromVector.Width} images; the vision transformer takes square images.");
        return config with
        {
            ImageSize = TrainerOptions.ImageSize ?? fromVector?.Height ?? config.ImageSize,
            Channels = TrainerOptions.ImageChannels ?? fromVector?.Channels ?? config.Channels,
        };
    }

    private protected override void CheckInputColumns(SchemaShape inputSchema)
    {
        var image = inputSchema.FirstOrDefault(c => c.Name == TrainerOptions.ImageColumnName);
        if (image.Name is null) throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Image column '{TrainerOptions.ImageColumnName}' not found.");
    }

    private protected override MoHImageClassificationTransformer CreateTransformer(FittedClassifier fitted) => new(fitted);
}

/// <summary>A fitted <see cref="MoHImageClassificationTrainer"/>: adds <c>Score</c> and <c>PredictedLabel</c>.</summary>
public sealed class MoHImageClassificationTransformer : MixtureHeadsClassificationTransformer
{
    internal MoHImageClassificationTransformer(FittedClassifier fitted) : base(fitted) { }
}
