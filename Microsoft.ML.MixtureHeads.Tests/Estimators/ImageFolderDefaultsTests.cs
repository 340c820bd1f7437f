using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// A user's own folder of photos, with no image option set: the model is sized to the images (side, colour, patches)
/// and says so in the log; a corrupt file among them fails with an error that names it.
/// </summary>
public sealed class ImageFolderDefaultsTests : IDisposable
{
    private const int Side = 64;
    private readonly string _folder = Directory.CreateTempSubdirectory("mixtureheads-photos-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Writes <paramref name="perClass"/> 64x64 RGB photos per class: warm or cool noise around a class colour.</summary>
    private List<ImageFile> WritePhotos(int perClass)
    {
        var random = new Random(3);
        var files = new List<ImageFile>();
        foreach (var (name, colour) in new[] { ("warm", (R: 220, G: 120, B: 40)), ("cool", (R: 40, G: 110, B: 210)) })
        {
            Directory.CreateDirectory(Path.Combine(_folder, name));
            for (int i = 0; i < perClass; i++)
            {
                var pixels = new byte[Side * Side * 3];
                for (int p = 0; p < pixels.Length; p += 3)
                {
                    pixels[p] = (byte)Math.Clamp(colour.R + random.Next(-40, 40), 0, 255);
                    pixels[p + 1] = (byte)Math.Clamp(colour.G + random.Next(-40, 40), 0, 255);
                    pixels[p + 2] = (byte)Math.Clamp(colour.B + random.Next(-40, 40), 0, 255);
                }
                string path = Path.Combine(_folder, name, $"{i:D3}.png");
                File.WriteAllBytes(path, PngEncoder.EncodeRgb24(pixels, Side, Side));
                files.Add(new ImageFile { ImagePath = path, Label = name });
            }
        }
        return files;
    }

    private static IEstimator<ITransformer> Pipeline(MLContext ml) =>
        ml.Transforms.LoadRawImageBytes("Image", imageFolder: null, inputColumnName: nameof(ImageFile.ImagePath))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Append(ml.MulticlassClassification.Trainers.MoHImageClassification(new MoHImageClassificationTrainer.Options
            {
                Model = TinyVisionTransformers.MoH, Epochs = 1, BatchSize = 16, Seed = 1,
            }));

    [Fact]
    public void A_folder_of_64x64_colour_photos_trains_at_64x64x3_with_no_image_option()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { lock (log) log.Add(e.Message); };
        var data = ml.Data.LoadFromEnumerable(WritePhotos(perClass: 24));

        using var model = (IDisposable)Pipeline(ml).Fit(data);

        var trained = ((TransformerChain<MoHImageClassificationTransformer>)model).LastTransformer;
        var config = Assert.IsType<VisionTransformerConfig>(trained.Network.Config);
        Assert.Equal((Side, 3), (config.ImageSize, config.Channels));
        Assert.Equal(Side / MoHImageClassificationTrainer.MaxPatchesPerSide, config.PatchSize);
        Assert.Contains(log, line => line.Contains("the first image is 64x64") && line.Contains("in colour") && line.Contains("64x64 with 3 channel(s)"));
        Assert.Equal(2, ml.MulticlassClassification.Evaluate(((ITransformer)model).Transform(data)).ConfusionMatrix.NumberOfClasses);
    }

    [Fact]
    public void A_corrupt_file_among_the_photos_is_named_in_the_error()
    {
        var ml = new MLContext(seed: 1);
        var files = WritePhotos(perClass: 20);
        var corrupt = files[30].ImagePath;   // past the first images the trainer looks at to size the model
        File.WriteAllBytes(corrupt, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);

        var error = Assert.Throws<ImageDecodingException>(() => Pipeline(ml).Fit(ml.Data.LoadFromEnumerable(files)));

        Assert.Contains($"ImagePath = '{corrupt}'", error.Message);
        Assert.Contains("training data", error.Message);
        Assert.Contains("could not be decoded", error.Message);
    }

    [Fact]
    public void A_corrupt_first_file_is_named_too()
    {
        var ml = new MLContext(seed: 1);
        var files = WritePhotos(perClass: 4);
        File.WriteAllBytes(files[0].ImagePath, new byte[24]);

        var error = Assert.Throws<ImageDecodingException>(() => Pipeline(ml).Fit(ml.Data.LoadFromEnumerable(files)));

        Assert.Contains($"ImagePath = '{files[0].ImagePath}'", error.Message);
        Assert.Contains("24 bytes", error.Message);
    }
}
