using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Which Fashion-MNIST files to read.</summary>
public enum FashionMnistSplit
{
    /// <summary>The 60,000 training images.</summary>
    Train,

    /// <summary>The 10,000 test images.</summary>
    Test,
}

/// <summary>One Fashion-MNIST image as an ML.NET row.</summary>
public sealed class FashionMnistImage
{
    /// <summary>Class name, e.g. "Ankle boot": map it to a key with <c>MapValueToKey</c>.</summary>
    public string Label { get; set; } = "";

    /// <summary>Class index 0-9 in the dataset's own order.</summary>
    public uint ClassIndex { get; set; }

    /// <summary>Grayscale pixels 0-255, row-major, with known dimensions 28 x 28.</summary>
    [VectorType(FashionMnistData.Height, FashionMnistData.Width)]
    public float[] Pixels { get; set; } = [];

    /// <summary>The same image encoded as PNG bytes, as <c>LoadRawImageBytes</c> would give for a file.</summary>
    public byte[] Image { get; set; } = [];
}

/// <summary>Fashion-MNIST (Zalando) read from its IDX files: 28x28 grayscale clothing images in 10 classes.</summary>
public sealed class FashionMnistData
{
    /// <summary>Image height in pixels.</summary>
    public const int Height = 28;

    /// <summary>Image width in pixels.</summary>
    public const int Width = 28;

    /// <summary>The class names in label order 0-9.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] _pixels;
    private readonly byte[] _labels;

    private FashionMnistData(byte[] pixels, byte[] labels)
    {
        _pixels = pixels;
        _labels = labels;
    }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>The pixels of image <paramref name="index"/>, 0-255, row-major.</summary>
    public ReadOnlySpan<byte> Pixels(int index) => _pixels.AsSpan(index * Height * Width, Height * Width);

    /// <summary>The class index 0-9 of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>Reads one split from <paramref name="directory"/> (default: Debian's dataset-fashion-mnist).</summary>
    /// <exception cref="FileNotFoundException">An IDX file is missing.</exception>
    /// <exception cref="InvalidDatasetException">A file is truncated, corrupt or inconsistent with its partner.</exception>
    public static FashionMnistData Read(FashionMnistSplit split, string? directory = null)
    {
        directory ??= DatasetLocations.FashionMnist;
        string prefix = split == FashionMnistSplit.Train ? "train" : "t10k";
        string imagesPath = FindFile(directory, $"{prefix}-images-idx3-ubyte");
        string labelsPath = FindFile(directory, $"{prefix}-labels-idx1-ubyte");

        var images = IdxFile.Read(imagesPath);
        var labels = IdxFile.Read(labelsPath);
        if (images.Dimensions is not [_, Height, Width])
            throw new InvalidDatasetException(imagesPath, $"expected images of {Height}x{Width}, header says [{string.Join(",", images.Dimensions)}]");
        if (labels.Dimensions.Length != 1)
            throw new InvalidDatasetException(labelsPath, $"expected a rank-1 label file, header says rank {labels.Dimensions.Length}");
        if (labels.Dimensions[0] != images.Dimensions[0])
            throw new InvalidDatasetException(labelsPath, $"{labels.Dimensions[0]} labels for {images.Dimensions[0]} images in {imagesPath}");
        int bad = Array.FindIndex(labels.Data, l => l >= ClassNames.Count);
        if (bad >= 0) throw new InvalidDatasetException(labelsPath, $"label {labels.Data[bad]} at row {bad} is not a class 0-9");
        return new FashionMnistData(images.Data, labels.Data);
    }

    /// <summary>The first <paramref name="count"/> images (or all, when there are fewer).</summary>
    public FashionMnistData Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new FashionMnistData(_pixels.AsSpan(0, count * Height * Width).ToArray(), _labels.AsSpan(0, count).ToArray());
    }

    /// <summary>The first <paramref name="perClass"/> images of each class, in their order in the file: a small labelled set
    /// with every class equally represented.</summary>
    public FashionMnistData Balanced(int perClass)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(perClass);
        var taken = new int[ClassNames.Count];
        var chosen = Enumerable.Range(0, Count).Where(i => taken[Label(i)]++ < perClass).ToArray();
        return new FashionMnistData(chosen.SelectMany(i => Pixels(i).ToArray()).ToArray(), chosen.Select(i => (byte)Label(i)).ToArray());
    }

    /// <summary>The images as an ML.NET <see cref="IDataView"/> of <see cref="FashionMnistImage"/> rows
    /// (PNG bytes are encoded as rows are read).</summary>
    public IDataView ToDataView(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return mlContext.Data.LoadFromEnumerable(Rows());
    }

    /// <summary>The rows of <see cref="ToDataView"/>.</summary>
    public IEnumerable<FashionMnistImage> Rows()
    {
        for (int i = 0; i < Count; i++)
        {
            var pixels = Pixels(i);
            var asFloats = new float[pixels.Length];
            for (int p = 0; p < pixels.Length; p++) asFloats[p] = pixels[p];
            yield return new FashionMnistImage
            {
                Label = ClassNames[Label(i)],
                ClassIndex = (uint)Label(i),
                Pixels = asFloats,
                Image = PngEncoder.EncodeGray8(pixels, Width, Height),
            };
        }
    }

    /// <summary>A folder name for a class: the class name with '/' replaced by '-'.</summary>
    public static string FolderName(int classIndex) => ClassNames[classIndex].Replace('/', '-');

    /// <summary>Writes the images as PNG files into one subfolder per class (<c>directory/Trouser/00042.png</c>),
    /// the layout users keep their own labelled images in.</summary>
    /// <returns>The paths written.</returns>
    public IReadOnlyList<string> WriteImageFolder(string directory)
    {
        var written = new List<string>(Count);
        for (int i = 0; i < Count; i++)
        {
            string folder = Path.Combine(directory, FolderName(Label(i)));
            Directory.CreateDirectory(folder);
            string path = Path.Combine(folder, $"{i:D5}.png");
            File.WriteAllBytes(path, PngEncoder.EncodeGray8(Pixels(i), Width, Height));
            written.Add(path);
        }
        return written;
    }

    private static string FindFile(string directory, string name)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Fashion-MNIST folder not found: {directory} (./build.sh deps installs Debian's dataset-fashion-mnist)");
        foreach (string candidate in new[] { name + ".gz", name })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"Fashion-MNIST file {name}[.gz] not found in {directory}", Path.Combine(directory, name + ".gz"));
    }
}
