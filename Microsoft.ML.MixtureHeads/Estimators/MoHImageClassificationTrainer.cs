using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
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
    public sealed class Options : TrainerOptionsBase
    {
        /// <summary>The image column: encoded bytes, images or a pixel vector. Default "Image".</summary>
        public string ImageColumnName = "Image";

        /// <summary>A registered architecture (see <see cref="ModelRegistry.VisionTransformers"/>). Default "moh_vit_tiny_75".</summary>
        public string Architecture = "moh_vit_tiny_75";

        /// <summary>A custom architecture; when set it replaces <see cref="Architecture"/>. Its class count is set from the label.</summary>
        public VisionTransformerConfig? Model;

        /// <summary>Image side the model sees; null takes the pixel vector's dimensions, else the architecture's.</summary>
        public int? ImageSize;

        /// <summary>1 (grayscale) or 3 (RGB); null takes the pixel vector's dimensions, else the architecture's.</summary>
        public int? ImageChannels;

        /// <summary>Zero padding (pixels per side) before a random crop back to size during training; 0 = off. It helps
        /// long schedules and slows short ones (measured on Fashion-MNIST: 66% vs 75% after one epoch on 20k images). Default 0.</summary>
        public int CropPadding;

        /// <summary>Randomly flip half the training images left-right. Turn off for digits, text or anything whose class a flip changes. Default true.</summary>
        public bool HorizontalFlip = true;

        /// <summary>Continue training from this checkpoint (e.g. <c>MixtureHeadsCheckpoint.FromZip</c>) instead of a fresh network. Default none.</summary>
        public MixtureHeadsCheckpoint? InitialModel;
    }

    internal MoHImageClassificationTrainer(IHostEnvironment environment, Options options) : base(environment, options)
    {
        if (options.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(options), $"CropPadding must not be negative, got {options.CropPadding}.");
        if (options.InitialModel is null && options.Model is null) ModelRegistry.VisionTransformer(options.Architecture); // unknown name fails here
    }

    private protected override string ComponentName => "MoHImageClassification";

    private protected override Func<Tensor, Generator, Tensor>? Augmentation =>
        TrainerOptions.CropPadding == 0 && !TrainerOptions.HorizontalFlip ? null : new ImageAugmentation(TrainerOptions.CropPadding, TrainerOptions.HorizontalFlip).Apply;

    /// <summary>The architecture for this data: the initial model's, the custom one or the registered one, sized to the data.</summary>
    private VisionTransformerConfig ResolveConfig(DataViewSchema schema, int classes)
    {
        if (TrainerOptions.InitialModel is { } initial)
        {
            if (initial.Kind != MoHVisionTransformer.KindName)
                throw new ArgumentException($"InitialModel is a '{initial.Kind}' model, not an image classifier.", nameof(Options.InitialModel));
            return ModelJson.Deserialize<VisionTransformerConfig>(initial.ConfigJson, nameof(Options.InitialModel));
        }
        var config = (TrainerOptions.Model ?? ModelRegistry.VisionTransformer(TrainerOptions.Architecture)) with { Classes = classes };
        var column = ImageColumn(schema);
        var fromVector = ImageInput.ShapeOfPixelVector(column.Type);
        if (fromVector is not null && fromVector.Height != fromVector.Width)
            throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{column.Name}' holds {fromVector.Height}x{fromVector.Width} images; the vision transformer takes square images.");
        return config with
        {
            ImageSize = TrainerOptions.ImageSize ?? fromVector?.Height ?? config.ImageSize,
            Channels = TrainerOptions.ImageChannels ?? fromVector?.Channels ?? config.Channels,
        };
    }

    private DataViewSchema.Column ImageColumn(DataViewSchema schema) =>
        schema.GetColumnOrNull(TrainerOptions.ImageColumnName)
        ?? throw new ArgumentOutOfRangeException(nameof(schema), $"Image column '{TrainerOptions.ImageColumnName}' not found in the data (columns: {string.Join(", ", schema.Select(c => c.Name))}).");

    private protected override NetworkInput PrepareInput(DataViewSchema schema)
    {
        var config = ResolveConfig(schema, classes: 2);
        var shape = new ImageShape(config.Channels, config.ImageSize, config.ImageSize);
        var (stages, column, temporary) = ImageInput.Stages(StageContext, ImageColumn(schema), shape);
        long[] rowShape = [shape.Channels, shape.Height, shape.Width];
        return new NetworkInput(stages, column, temporary, () => new FloatVectorBatchInput(column, rowShape), rowShape);
    }

    private protected override Tensor ReadInputs(IDataView featurized, NetworkInput input)
    {
        var column = featurized.Schema[input.InputColumn];
        int size = (int)input.RowShape.Aggregate(1L, (a, b) => a * b);
        var pixels = new List<float[]>();
        using (var cursor = featurized.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> row = default;
            while (cursor.MoveNext())
            {
                getter(ref row);
                pixels.Add(row.DenseValues().ToArray());
            }
        }
        var flat = new float[(long)pixels.Count * size];
        for (int i = 0; i < pixels.Count; i++) pixels[i].CopyTo(flat, (long)i * size);
        return tensor(flat, [pixels.Count, .. input.RowShape]);
    }
    private protected override ClassifierNetwork CreateNetwork(IReadOnlyList<string> classNames, DataViewSchema schema, TrainingTensors train)
    {
        if (TrainerOptions.InitialModel is { } initial)
        {
            if (!initial.ClassNames.SequenceEqual(classNames))
                throw new ArgumentException($"InitialModel was trained on classes [{string.Join(", ", initial.ClassNames)}]; the label column has [{string.Join(", ", classNames)}].", nameof(Options.InitialModel));
            return initial.CreateNetwork();
        }
        return new MoHVisionTransformer(ResolveConfig(schema, classNames.Count));
    }

    private protected override void CheckInputColumn(SchemaShape inputSchema)
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
