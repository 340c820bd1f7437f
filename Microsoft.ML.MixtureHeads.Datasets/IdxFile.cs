using System.IO.Compression;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Reads unsigned-byte IDX files (the MNIST family's format), plain or gzipped.</summary>
/// <remarks>Header: two zero bytes, type code 0x08 (unsigned byte), rank, then rank big-endian int32 sizes.</remarks>
public static class IdxFile
{
    /// <summary>The dimensions and the raw bytes of an IDX file of unsigned bytes.</summary>
    public sealed record Content(int[] Dimensions, byte[] Data);

    /// <summary>Reads <paramref name="path"/>; a name ending in .gz is decompressed.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDatasetException">The header is wrong or the data is shorter than the header says.</exception>
    public static Content Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path} (./build.sh deps installs Fashion-MNIST)", path);
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            byte[] header = ReadExactly(stream, 4, path, "header");
            if (header[0] != 0 || header[1] != 0) throw new InvalidDatasetException(path, "not an IDX file (the first two bytes must be zero)");
            if (header[2] != 0x08) throw new InvalidDatasetException(path, $"IDX element type 0x{header[2]:x2} is not unsigned byte (0x08)");
            int rank = header[3];
            if (rank is < 1 or > 4) throw new InvalidDatasetException(path, $"IDX rank {rank} is not between 1 and 4");
            byte[] sizes = ReadExactly(stream, 4 * rank, path, "dimension sizes");
            var dimensions = new int[rank];
            long count = 1;
            for (int d = 0; d < rank; d++)
            {
                dimensions[d] = sizes[4 * d] << 24 | sizes[4 * d + 1] << 16 | sizes[4 * d + 2] << 8 | sizes[4 * d + 3];
                if (dimensions[d] <= 0) throw new InvalidDatasetException(path, $"IDX dimension {d} has size {dimensions[d]}");
                count *= dimensions[d];
            }
            if (count > int.MaxValue) throw new InvalidDatasetException(path, $"IDX file declares {count} elements, too many to hold");
            byte[] data = ReadExactly(stream, (int)count, path, "data");
            return new Content(dimensions, data);
        }
        catch (InvalidDataException e) // GZipStream on corrupt data
        {
            throw new InvalidDatasetException(path, $"corrupt gzip stream ({e.Message})", e);
        }
    }

    private static byte[] ReadExactly(Stream stream, int count, string path, string what)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = stream.Read(buffer, read, count - read);
            if (n == 0) throw new InvalidDatasetException(path, $"truncated: {what} needs {count} bytes, the file ends after {read}");
            read += n;
        }
        return buffer;
    }
}
