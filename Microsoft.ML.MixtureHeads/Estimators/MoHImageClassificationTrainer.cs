using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
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

        /// <summary>Image side the model sees. Null (default) takes a pixel vector's dimensions, or the first image's larger
        /// side up to <see cref="MaxImageSideFromData"/> (larger images are resized), growing the architecture's patch size
        /// so that at most <see cref="MaxPatchesPerSide"/> patches fit a side; the training log says what was chosen.</summary>
        public int? ImageSize;

        /// <summary>1 (grayscale) or 3 (RGB). Null (default) takes a pixel vector's dimensions, or 1 when the first
        /// images are all grayscale and 3 otherwise.</summary>
        public int? ImageChannels;

        /// <summary>Zero padding (pixels per side) before a random crop back to size during training; 0 = off. It helps
        /// long schedules and slows short ones (docs/decisions.md). Default 0.</summary>
        public int CropPadding;

        /// <summary>Randomly flip half the training images left-right: for photos whose class a mirror image keeps (not digits,
        /// text or most non-natural images). Default false, as ML.NET's image trainer does not augment either. With a
        /// hybrid architecture, augmentation makes the frozen trunk run every step instead of once per image.</summary>
        public bool HorizontalFlip;

        /// <summary>For a hybrid architecture (<c>moh_hybrid_resnet18_*</c>, MoH blocks on a pretrained ResNet-18): the folder
        /// holding <c>ResNet18Onnx/ResNet18.onnx</c> and <c>ResNetPrepOnnx/ResNetPreprocess.onnx</c>. Null (default) takes
        /// <c>DnnImageModels</c> next to the app, where the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 puts them.</summary>
        public string? PretrainedWeightsFolder;

        /// <summary>The learning rate a hybrid architecture's new model trains at while <see cref="TrainerOptionsBase.LearningRate"/>
        /// is left at the trainer's default 1e-3, which is made for a random start. Default 3e-4.</summary>
        public double PretrainedLearningRate = 3e-4;
    }

    internal MoHImageClassificationTrainer(IHostEnvironment environment, Options options) : base(environment, options)
    {
        if (options.CropPadding < 0) throw new ArgumentOutOfRangeException(nameof(options), $"CropPadding must not be negative, got {options.CropPadding}.");
        if (!(options.PretrainedLearningRate > 0) || !double.IsFinite(options.PretrainedLearningRate))
            throw new ArgumentOutOfRangeException(nameof(options), $"PretrainedLearningRate must be positive, got {options.PretrainedLearningRate}.");
        if (options.InitialModel is null && options.Model is null) RegisteredArchitecture(options.Architecture); // unknown name fails here
    }

    private protected override string ComponentName => "MoHImageClassification";

    private protected override IReadOnlyList<string> Kinds => [MoHVisionTransformer.KindName, MoHHybridVisionTransformer.KindName];

    /// <summary>A registered vision transformer or hybrid architecture.</summary>
    private static ModelConfig RegisteredArchitecture(string name) =>
        ModelRegistry.List(name).Count == 1 && ModelRegistry.Get<ModelConfig>(name) is var config && config is VisionTransformerConfig or HybridVisionTransformerConfig
            ? config
            : throw new ArgumentOutOfRangeException(nameof(name), $"No image architecture named '{name}'. Registered: " +
                $"{string.Join(", ", ModelRegistry.List(configType: typeof(VisionTransformerConfig)).Concat(ModelRegistry.List(configType: typeof(HybridVisionTransformerConfig))))}.");

    private protected override IReadOnlyList<string> InputColumnNames => [TrainerOptions.ImageColumnName];

    private protected override Func<Tensor, Generator, Tensor>? Augmentation =>
        TrainerOptions.CropPadding == 0 && !TrainerOptions.HorizontalFlip ? null : new ImageAugmentation(TrainerOptions.CropPadding, TrainerOptions.HorizontalFlip).Apply;

    private protected override IEnumerable<string> OptionsConflictingWith(ModelConfig initialConfig)
    {
        if (initialConfig is HybridVisionTransformerConfig hybrid)
        {
            if (TrainerOptions.Model is not null) yield return "Model (an architecture other than the initial model's)";
            if (TrainerOptions.ImageSize is { } side && side != hybrid.ImageSize) yield return $"ImageSize = {side} (the model takes {hybrid.ImageSize})";
            if (TrainerOptions.ImageChannels is { } rgb && rgb != 3) yield return $"ImageChannels = {rgb} (the model takes 3)";
            yield break;
        }
        var config = (VisionTransformerConfig)initialConfig;
        if (TrainerOptions.Model is { } model && model with { Classes = config.Classes, ImageSize = config.ImageSize, Channels = config.Channels } != config)
            yield return "Model (an architecture other than the initial model's)";
        if (TrainerOptions.ImageSize is { } size && size != config.ImageSize) yield return $"ImageSize = {size} (the model takes {config.ImageSize})";
        if (TrainerOptions.ImageChannels is { } channels && channels != config.Channels) yield return $"ImageChannels = {channels} (the model takes {config.Channels})";
    }

    private protected override ClassifierPlan Plan(MLContext stages, IDataView data, ModelConfig? initialConfig, IChannel channel)
    {
        var column = data.Schema.GetColumnOrNull(TrainerOptions.ImageColumnName)
            ?? throw new ArgumentOutOfRangeException(nameof(data), $"Image column '{TrainerOptions.ImageColumnName}' not found in the data (columns: {string.Join(", ", data.Schema.Select(c => c.Name))}).");
        var hybrid = initialConfig as HybridVisionTransformerConfig
            ?? (initialConfig is null && TrainerOptions.Model is null ? RegisteredArchitecture(TrainerOptions.Architecture) as HybridVisionTransformerConfig : null);
        if (hybrid is not null) return HybridPlan(stages, column, hybrid, initialConfig is null);
        var config = initialConfig as VisionTransformerConfig ?? SizedToData(data, column, channel);
        var shape = new ImageShape(config.Channels, config.ImageSize, config.ImageSize);
        var (stagesToPixels, pixelColumn, temporary) = ImageInput.Stages(stages, column, shape);
        long[] rowShape = [shape.Channels, shape.Height, shape.Width];
        return new ClassifierPlan<float[]>(stagesToPixels, new PixelInput(pixelColumn, rowShape), temporary, 4L * shape.Size + 32,
            (classNames, _) => new MoHVisionTransformer(config with { Classes = classNames.Count }));
    }

    /// <summary>RGB images of the hybrid's size (<see cref="Options.ImageSize"/> overrides a new model's), and a network
    /// whose trunk starts from the ImageNet weights.</summary>
    private ClassifierPlan HybridPlan(MLContext stages, DataViewSchema.Column column, HybridVisionTransformerConfig config, bool newModel)
    {
        if (TrainerOptions.ImageChannels is { } channels && channels != 3)
            throw new ArgumentOutOfRangeException(nameof(TrainerOptions), $"ImageChannels = {channels}, but the hybrid architecture's ResNet-18 trunk reads RGB images (3).");
        if (newModel)
        {
            config = config with { ImageSize = TrainerOptions.ImageSize ?? config.ImageSize };
            config.Validate();
            Persistence.PretrainedResNet18.Locate(TrainerOptions.PretrainedWeightsFolder);   // a missing weights package fails before the data is read
        }
        var shape = new ImageShape(3, config.ImageSize, config.ImageSize);
        var (stagesToPixels, pixelColumn, temporary) = ImageInput.Stages(stages, column, shape);
        bool defaultRate = TrainerOptions.LearningRate == Options.DefaultLearningRate;
        return new ClassifierPlan<float[]>(stagesToPixels, new PixelInput(pixelColumn, [3, shape.Height, shape.Width]), temporary, 4L * shape.Size + 32,
            (classNames, _) =>
            {
                var network = new MoHHybridVisionTransformer(config with { Classes = classNames.Count });
                try
                {
                    Persistence.PretrainedResNet18.LoadInto(network, TrainerOptions.PretrainedWeightsFolder);
                    return network;
                }
                catch
                {
                    network.Dispose();
                    throw;
                }
            }) { LearningRate = newModel && defaultRate ? TrainerOptions.PretrainedLearningRate : null };
    }

    /// <summary>
    /// The custom or registered architecture, sized to the data: a pixel vector's dimensions; or, for encoded bytes and
    /// images, the first image's larger side (at most <see cref="MaxImageSideFromData"/>; larger images are resized)
    /// and grayscale or colour as the first images are, with patches grown so that at most
    /// <see cref="MaxPatchesPerSide"/> fit a side. <see cref="Options.ImageSize"/> and <see cref="Options.ImageChannels"/> override.
    /// </summary>
    private VisionTransformerConfig SizedToData(IDataView data, DataViewSchema.Column column, IChannel channel)
    {
        var config = TrainerOptions.Model ?? ModelRegistry.Get<VisionTransformerConfig>(TrainerOptions.Architecture);
        var fromVector = ImageInput.ShapeOfPixelVector(column.Type);
        if (fromVector is not null && fromVector.Height != fromVector.Width)
            throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column.Name}' holds {fromVector.Height}x{fromVector.Width} images; the vision transformer takes square images.");
        if (fromVector is not null || column.Type is VectorDataViewType { ItemType: NumberDataViewType item } && item == NumberDataViewType.Single)
            return config with
            {
                ImageSize = TrainerOptions.ImageSize ?? fromVector?.Height ?? config.ImageSize,
                Channels = TrainerOptions.ImageChannels ?? fromVector?.Channels ?? config.Channels,
            };

        bool images = column.Type is ImageDataViewType || column.Type is VectorDataViewType { ItemType: var bytes } && bytes == NumberDataViewType.Byte;
        var probe = images && (TrainerOptions.ImageSize is null || TrainerOptions.ImageChannels is null) ? ImageProbe.Read(data, column) : null;
        int channels = TrainerOptions.ImageChannels ?? (probe is null ? config.Channels : probe.Grayscale ? 1 : 3);
        if (TrainerOptions.ImageSize is not null || probe is null)
            return config with { ImageSize = TrainerOptions.ImageSize ?? config.ImageSize, Channels = channels };

        int side = Math.Min(Math.Max(probe.Width, probe.Height), MaxImageSideFromData), patch = config.PatchSize;
        while (side > MaxPatchesPerSide * patch) patch *= 2;
        side = (side + patch - 1) / patch * patch;
        channel.Info(MessageSensitivity.None,
            $"Image column '{column.Name}': the first image is {probe.Width}x{probe.Height}, and the first {probe.Images} are {(probe.Grayscale ? "grayscale" : "in colour")}; " +
            $"the model sees {side}x{side} with {channels} channel(s) and {patch}x{patch} patches{(side != probe.Width || side != probe.Height ? " (images are resized)" : "")}. " +
            "Set ImageSize and ImageChannels to choose.");
        return config with { ImageSize = side, Channels = channels, PatchSize = patch };
    }

    /// <summary>The largest image side taken from the data when <see cref="Options.ImageSize"/> is unset; larger images are resized to it.</summary>
    public const int MaxImageSideFromData = 64;

    /// <summary>Patches per image side at most when the size comes from the data (the patch size doubles until they fit).</summary>
    public const int MaxPatchesPerSide = 8;

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
