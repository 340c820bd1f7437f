using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary>
/// The data a hostile but ordinary user feeds a trainer or a fitted model: each case fails with a typed error that
/// names the data set, the column and the row (docs/reliability.md lists them by test name).
/// </summary>
public sealed class BadInputTests : IDisposable
{
    public sealed class BytesRow { public string Label { get; set; } = ""; public byte[] Image { get; set; } = []; }
    public sealed class PixelRow { public string Label { get; set; } = ""; [VectorType(1, 8, 8)] public float[] Pixels { get; set; } = []; }
    public sealed class SmallPixelRow { public string Label { get; set; } = ""; [VectorType(1, 6, 6)] public float[] Pixels { get; set; } = []; }
    public sealed class AnySizePixelRow { public string Label { get; set; } = ""; [VectorType] public float[] Pixels { get; set; } = []; }
    public sealed class LabelRow { public string Label { get; set; } = ""; }

    private const int BadRow = 5;
    private static readonly VisionTransformerConfig Tiny = new()
    {
        ImageSize = 8, PatchSize = 4, Stem = ImageStem.Patch, Dim = 16, Depth = 1, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2,
    };

    private readonly MLContext _ml = new(seed: 1);
    private readonly string _folder = Directory.CreateTempSubdirectory("mixtureheads-bad-input-").FullName;
    private readonly List<BytesRow> _images;
    private readonly List<PixelRow> _pixels;

    public BadInputTests()
    {
        var random = new Random(2);
        _images = Enumerable.Range(0, 32).Select(i =>
        {
            var gray = new byte[64];
            random.NextBytes(gray);
            return new BytesRow { Label = $"c{i % 2}", Image = PngEncoder.EncodeGray8(gray, 8, 8) };
        }).ToList();
        _pixels = Enumerable.Range(0, 32).Select(i => new PixelRow { Label = $"c{i % 2}", Pixels = Enumerable.Range(0, 64).Select(_ => random.NextSingle() * 255).ToArray() }).ToList();
    }

    private IEstimator<ITransformer> Pipeline(string column, IDataView? validation = null) =>
        _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MoHImageClassifier(new MoHImageClassificationTrainer.Options
        {
            ImageColumnName = column, Epochs = 1, BatchSize = 8, Model = Tiny, Seed = 1, ValidationSet = validation,
        }));

    private List<BytesRow> WithImage(byte[] bytes) =>
        _images.Select((r, i) => i == BadRow ? new BytesRow { Label = r.Label, Image = bytes } : r).ToList();

    private List<PixelRow> WithPixel(float value) =>
        _pixels.Select((r, i) => i == BadRow ? new PixelRow { Label = r.Label, Pixels = r.Pixels.Select((v, j) => j == 3 ? value : v).ToArray() } : r).ToList();

    private byte[] CutPng() => _images[BadRow].Image[..(int)(_images[BadRow].Image.Length * 0.6)];

    [Fact]
    public void A_png_cut_short_fails_training_naming_the_row()
    {
        var error = Assert.Throws<ImageDecodingException>(() => Pipeline("Image").Fit(_ml.Data.LoadFromEnumerable(WithImage(CutPng()))));

        Assert.Contains($"row {BadRow}", error.Message);
        Assert.Contains("cut short", error.Message);
    }

    [Fact]
    public void A_png_cut_short_fails_scoring_naming_the_data_set_and_row()
    {
        using var model = (IDisposable)Pipeline("Image").Fit(_ml.Data.LoadFromEnumerable(_images));

        var error = Assert.Throws<ImageDecodingException>(() => ((ITransformer)model).Transform(_ml.Data.LoadFromEnumerable(WithImage(CutPng()))).Preview());

        Assert.Contains($"The scoring data, row {BadRow}", error.Message);
        Assert.Contains("cut short", error.Message);
    }

    [Fact]
    public void An_empty_or_corrupt_image_fails_training_naming_the_row()
    {
        var empty = Assert.Throws<ImageDecodingException>(() => Pipeline("Image").Fit(_ml.Data.LoadFromEnumerable(WithImage([]))));
        var corrupt = Assert.Throws<ImageDecodingException>(() => Pipeline("Image").Fit(_ml.Data.LoadFromEnumerable(WithImage([1, 2, 3, 4, 5]))));

        Assert.Contains($"row {BadRow}", empty.Message);
        Assert.Contains("empty", empty.Message);
        Assert.Contains($"row {BadRow}", corrupt.Message);
    }

    [Fact]
    public void A_validation_set_of_another_pixel_size_or_without_the_image_column_is_refused_before_training()
    {
        var smaller = _ml.Data.LoadFromEnumerable(_pixels.Select(r => new SmallPixelRow { Label = r.Label, Pixels = r.Pixels[..36] }));
        var anySize = _ml.Data.LoadFromEnumerable(_pixels.Select(r => new AnySizePixelRow { Label = r.Label, Pixels = [.. r.Pixels, 1f] }));
        var noImage = _ml.Data.LoadFromEnumerable(_pixels.Select(r => new LabelRow { Label = r.Label }));
        var training = _ml.Data.LoadFromEnumerable(_pixels);

        foreach (var validation in new[] { smaller, anySize, noImage })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline("Pixels", validation).Fit(training));
            Assert.Contains("'Pixels'", error.Message);
            Assert.Contains("validation data", error.Message);
        }
    }

    [Fact]
    public void No_rows_fail_as_no_rows()
    {
        var error = Assert.Throws<ArgumentException>(() => Pipeline("Pixels").Fit(_ml.Data.LoadFromEnumerable(new List<PixelRow>())));

        Assert.Contains("no rows", error.Message);
    }

    [Fact]
    public void Non_finite_pixels_fail_naming_the_column_data_set_and_row_in_training_and_scoring()
    {
        var training = Assert.Throws<InvalidDataException>(() => Pipeline("Pixels").Fit(_ml.Data.LoadFromEnumerable(WithPixel(float.NaN))));
        using var model = (IDisposable)Pipeline("Pixels").Fit(_ml.Data.LoadFromEnumerable(_pixels));
        var scoring = Assert.Throws<InvalidDataException>(() => ((ITransformer)model).Transform(_ml.Data.LoadFromEnumerable(WithPixel(float.PositiveInfinity))).Preview());

        Assert.Contains($"Column 'Pixels' of the training data holds NaN at row {BadRow}", training.Message);
        Assert.Contains($"Column 'Pixels' of the scoring data holds Infinity at row {BadRow}", scoring.Message);
    }

    [Fact]
    public void Scoring_rows_of_another_pixel_count_fail_naming_the_row()
    {
        using var model = (IDisposable)Pipeline("Pixels").Fit(_ml.Data.LoadFromEnumerable(_pixels));

        foreach (int size in new[] { 36, 65 })
        {
            var rows = _ml.Data.LoadFromEnumerable(_pixels.Select(r => new AnySizePixelRow { Label = r.Label, Pixels = r.Pixels.Append(1f).Take(size).ToArray() }));
            var error = Assert.Throws<InvalidDataException>(() => ((ITransformer)model).Transform(rows).Preview());
            Assert.Contains($"Column 'Pixels' of the scoring data has {size} values at row 0; the model takes 64", error.Message);
        }
    }

    [Fact]
    public void A_zip_whose_model_entry_is_cut_short_is_refused_naming_the_entry()
    {
        var data = _ml.Data.LoadFromEnumerable(_pixels);
        using var model = (IDisposable)Pipeline("Pixels").Fit(data);
        string zip = Path.Combine(_folder, "model.zip");
        _ml.Model.SaveAtomically((ITransformer)model, data.Schema, zip);
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Update))
        {
            var entry = archive.Entries.First(e => e.Name == "OnnxModel");
            using var bytes = new MemoryStream();
            using (var stream = entry.Open()) stream.CopyTo(bytes);
            string name = entry.FullName;
            entry.Delete();
            using var cut = archive.CreateEntry(name).Open();
            cut.Write(bytes.ToArray(), 0, (int)bytes.Length / 2);
        }

        var error = Assert.Throws<InvalidDataException>(() => MixtureHeadsCheckpoint.FromZip(zip));
        Assert.Throws<InvalidOperationException>(() => _ml.Model.Load(zip, out _));   // ML.NET's own loader: "Error during class instantiation"

        Assert.Contains("OnnxModel is truncated", error.Message);
        Assert.Contains(zip, error.Message);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
