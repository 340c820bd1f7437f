using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>What the first images of a column look like: the size of the first, and whether all are grayscale.</summary>
/// <param name="Width">The first image's width.</param>
/// <param name="Height">The first image's height.</param>
/// <param name="Grayscale">True when every probed image has equal red, green and blue in every pixel.</param>
/// <param name="Images">How many images were probed.</param>
internal sealed record ImageProbe(int Width, int Height, bool Grayscale, int Images)
{
    /// <summary>Images read to decide grayscale or colour.</summary>
    public const int MaxImages = 16;

    /// <summary>Probes the first <see cref="MaxImages"/> images of <paramref name="column"/> (encoded bytes or images),
    /// or returns null when the data has no rows.</summary>
    /// <exception cref="ImageDecodingException">An image cannot be decoded (the message names the row and its text values).</exception>
    public static ImageProbe? Read(IDataView data, DataViewSchema.Column column)
    {
        using var cursor = data.GetRowCursor([column, .. RowDescription.TextColumns(data.Schema)]);
        var next = ImageReader(cursor, column);
        int width = 0, height = 0, images = 0;
        bool grayscale = true;
        while (images < MaxImages && cursor.MoveNext())
        {
            if (next() is not { } image) continue;
            if (images++ == 0) (width, height) = (image.Width, image.Height);
            grayscale &= image.Gray;
        }
        return images == 0 ? null : new ImageProbe(width, height, grayscale, images);
    }

    /// <summary>Reads the current row's image size and colour, or null for an empty value.</summary>
    private static Func<(int Width, int Height, bool Gray)?> ImageReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type is ImageDataViewType)
        {
            var getter = cursor.GetGetter<MLImage>(column);
            MLImage image = null!;   // owned by the stage that made it
            return () =>
            {
                getter(ref image);
                return image is { Width: > 0 } ? (image.Width, image.Height, IsGray(image)) : null;
            };
        }
        var bytes = cursor.GetGetter<VBuffer<byte>>(column);
        var describe = RowDescription.Of(cursor);
        VBuffer<byte> buffer = default;
        return () =>
        {
            bytes(ref buffer);
            if (buffer.Length == 0) return null;
            var encoded = new byte[buffer.Length];
            buffer.CopyTo(encoded);
            try
            {
                using var image = ImageBytesDecoding.Decode(encoded);
                return (image.Width, image.Height, IsGray(image));
            }
            catch (ImageDecodingException e)
            {
                throw new ImageDecodingException($"Image column '{column.Name}', {describe()}: {e.Message}", e);
            }
        };
    }

    private static bool IsGray(MLImage image)
    {
        var pixels = image.Pixels;   // 4 bytes per pixel; alpha is the 4th byte in both Bgra32 and Rgba32
        for (int i = 0; i + 3 < pixels.Length; i += 4)
            if (pixels[i] != pixels[i + 1] || pixels[i + 1] != pixels[i + 2]) return false;
        return true;
    }
}
