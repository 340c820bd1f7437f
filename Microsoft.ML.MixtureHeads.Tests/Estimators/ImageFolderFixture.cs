using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>One labelled image file: the input rows of the folder pipelines.</summary>
public sealed class ImageFile
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>
/// Fashion-MNIST written as PNG files into class-named subfolders (the layout users keep their images in), and two
/// pipelines trained on them once for the whole test class: raw bytes (<c>LoadRawImageBytes</c>, needs our stateless
/// decoder) and images (<c>LoadImages</c>, standard stages only). Both are saved as ML.NET .zip files.
/// </summary>
public sealed class ImageFolderFixture : IDisposable
{
    public const int TrainImages = 600, TestImages = 100;

    public ImageFolderFixture()
    {
        Root = Directory.CreateTempSubdirectory("mixtureheads-images-").FullName;
        TrainFiles = WriteFolder(FashionMnistData.Read(FashionMnistSplit.Train).Take(TrainImages), Path.Combine(Root, "train"));
        TestPixels = FashionMnistData.Read(FashionMnistSplit.Test).Take(TestImages);
        TestFiles = WriteFolder(TestPixels, Path.Combine(Root, "test"));

        MLContext = new MLContext(seed: 7);
        var train = MLContext.Data.LoadFromEnumerable(TrainFiles);
        BytesModel = Fit(MLContext.Transforms.LoadRawImageBytes("Image", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath)), train);
        ImagesModel = Fit(MLContext.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath)), train);
        BytesZip = Path.Combine(Root, "bytes-model.zip");
        ImagesZip = Path.Combine(Root, "images-model.zip");
        MLContext.Model.Save(BytesModel, train.Schema, BytesZip);
        MLContext.Model.Save(ImagesModel, train.Schema, ImagesZip);
    }

    public string Root { get; }
    public MLContext MLContext { get; }
    public IReadOnlyList<ImageFile> TrainFiles { get; }
    public IReadOnlyList<ImageFile> TestFiles { get; }
    public FashionMnistData TestPixels { get; }
    public TransformerChain<MoHImageClassificationTransformer> BytesModel { get; }
    public TransformerChain<MoHImageClassificationTransformer> ImagesModel { get; }
    public string BytesZip { get; }
    public string ImagesZip { get; }

    /// <summary>Our fitted stage inside a pipeline.</summary>
    public static MoHImageClassificationTransformer Trained(TransformerChain<MoHImageClassificationTransformer> model) => model.LastTransformer;

    private TransformerChain<MoHImageClassificationTransformer> Fit(IEstimator<ITransformer> load, IDataView train) =>
        load.Append(MLContext.Transforms.Conversion.MapValueToKey("Label"))
            .Append(MLContext.MulticlassClassification.Trainers.MoHImageClassification(new MoHImageClassificationTrainer.Options
            {
                ImageColumnName = "Image",
                Model = TinyVisionTransformers.MoH,
                Epochs = 20,
                BatchSize = 32,
                LearningRate = 3e-3,
                WarmupEpochs = 1,
                Seed = 1,
            }))
            .Fit(train);

    private static List<ImageFile> WriteFolder(FashionMnistData data, string folder) =>
        data.WriteImageFolder(folder).Select(path => new ImageFile { ImagePath = path, Label = Path.GetFileName(Path.GetDirectoryName(path))! }).ToList();

    public void Dispose()
    {
        BytesModel.Dispose();
        ImagesModel.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
