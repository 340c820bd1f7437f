using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

/// <summary>The Fashion-MNIST reader on Debian's real files, and its errors on broken copies.</summary>
public sealed class FashionMnistTests
{
    [Theory]
    [InlineData(FashionMnistSplit.Train, 60_000)]
    [InlineData(FashionMnistSplit.Test, 10_000)]
    public void Reads_every_image_with_labels_0_to_9_balanced(FashionMnistSplit split, int expected)
    {
        var data = FashionMnistData.Read(split);
        Assert.Equal(expected, data.Count);
        var perClass = Enumerable.Range(0, data.Count).GroupBy(data.Label).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 10), perClass.Keys.Order());
        Assert.All(perClass.Values, n => Assert.Equal(expected / 10, n)); // Fashion-MNIST is balanced
        Assert.InRange(Enumerable.Range(0, 100).Average(i => data.Pixels(i).ToArray().Average(p => (double)p)), 40, 120);
    }

    [Fact]
    public void Data_view_has_known_size_pixels_and_png_bytes_that_decode_to_the_same_pixels()
    {
        var ml = new MLContext(seed: 1);
        var data = FashionMnistData.Read(FashionMnistSplit.Test).Take(5);
        var view = data.ToDataView(ml);

        var pixels = (VectorDataViewType)view.Schema["Pixels"].Type;
        Assert.Equal([28, 28], pixels.Dimensions.ToArray());
        Assert.Equal(NumberDataViewType.Single, pixels.ItemType);
        var image = (VectorDataViewType)view.Schema["Image"].Type;
        Assert.False(image.IsKnownSize);
        Assert.Equal(NumberDataViewType.Byte, image.ItemType);

        var rows = ml.Data.CreateEnumerable<FashionMnistImage>(view, reuseRowObject: false).ToList();
        Assert.Equal(5, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(FashionMnistData.ClassNames[data.Label(i)], rows[i].Label);
            using var decoded = MLImage.CreateFromStream(new MemoryStream(rows[i].Image));
            Assert.Equal((28, 28), (decoded.Width, decoded.Height));
            byte[] bgra = decoded.GetBGRPixels.ToArray();
            byte[] gray = Enumerable.Range(0, 28 * 28).Select(p => bgra[3 * p]).ToArray();
            Assert.Equal(data.Pixels(i).ToArray(), gray);
            Assert.Equal(data.Pixels(i).ToArray().Select(p => (float)p), rows[i].Pixels);
        }
    }

    [Fact]
    public void Image_folder_has_one_subfolder_per_class()
    {
        string folder = Directory.CreateTempSubdirectory("fmnist-folder-").FullName;
        try
        {
            var data = FashionMnistData.Read(FashionMnistSplit.Test).Take(200);
            var written = data.WriteImageFolder(folder);
            Assert.Equal(200, written.Count);
            Assert.Equal(10, Directory.GetDirectories(folder).Length);
            Assert.Contains(Path.Combine(folder, "T-shirt-top"), Directory.GetDirectories(folder));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Truncated_gzip_idx_file_gives_typed_error_naming_the_file()
    {
        string folder = CopyOfTestSplit();
        try
        {
            string images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz");
            byte[] whole = File.ReadAllBytes(images);
            File.WriteAllBytes(images, whole[..(whole.Length / 2)]);
            var error = Assert.Throws<InvalidDatasetException>(() => FashionMnistData.Read(FashionMnistSplit.Test, folder));
            Assert.Equal(images, error.FilePath);
            Assert.Contains(images, error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Truncated_plain_idx_file_says_how_many_bytes_are_missing()
    {
        string folder = CopyOfTestSplit();
        try
        {
            string gz = Path.Combine(folder, "t10k-labels-idx1-ubyte.gz");
            string plain = Path.Combine(folder, "t10k-labels-idx1-ubyte");
            using (var input = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress))
            using (var output = new MemoryStream())
            {
                input.CopyTo(output);
                File.WriteAllBytes(plain, output.ToArray()[..5000]);
            }
            File.Delete(gz);
            var error = Assert.Throws<InvalidDatasetException>(() => FashionMnistData.Read(FashionMnistSplit.Test, folder));
            Assert.Equal(plain, error.FilePath);
            Assert.Contains("truncated", error.Message);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void Wrong_header_and_missing_files_give_typed_errors()
    {
        string folder = CopyOfTestSplit();
        try
        {
            string labels = Path.Combine(folder, "t10k-labels-idx1-ubyte.gz");
            using (var gzip = new GZipStream(File.Create(labels), CompressionLevel.Fastest))
                gzip.Write([1, 2, 3, 4, 5, 6, 7, 8]);
            var error = Assert.Throws<InvalidDatasetException>(() => FashionMnistData.Read(FashionMnistSplit.Test, folder));
            Assert.Contains("not an IDX file", error.Message);

            File.Delete(labels);
            Assert.Throws<FileNotFoundException>(() => FashionMnistData.Read(FashionMnistSplit.Test, folder));
            Assert.Throws<DirectoryNotFoundException>(() => FashionMnistData.Read(FashionMnistSplit.Test, Path.Combine(folder, "nope")));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    private static string CopyOfTestSplit()
    {
        string folder = Directory.CreateTempSubdirectory("fmnist-copy-").FullName;
        foreach (string name in new[] { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" })
            File.Copy(Path.Combine(DatasetLocations.FashionMnist, name), Path.Combine(folder, name));
        return folder;
    }
}
