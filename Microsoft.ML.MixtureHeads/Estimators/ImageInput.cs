using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>Channels, height and width of the images a model sees.</summary>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per image.</summary>
    public int Size => Channels * Height * Width;
}

/// <summary>
/// Builds the standard ML.NET stages that turn a user's image column into the model's pixel vector
/// [C, H, W] with values 0-255: encoded bytes are decoded (<see cref="ImageBytesDecoding"/>), images resized to the
/// model's size (stretched), converted to grayscale for one-channel models, and their pixels extracted planar.
/// A float vector column of the right size is used as it is. The same stages run for training and inside the saved model.
/// </summary>
internal static class ImageInput
{
    public const string PixelColumn = "__MoH_Pixels";
    private const string ResizedColumn = "__MoH_Resized";
    private const string GrayColumn = "__MoH_Gray";

    /// <summary>The stages for <paramref name="column"/>, or null when the column already is the pixel vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column's type is not an image, encoded bytes or a fitting float vector.</exception>
    public static (IEstimator<ITransformer>? Stages, string PixelColumnName, string[] TemporaryColumns) Stages(
        MLContext mlContext, DataViewSchema.Column column, ImageShape shape)
    {
        switch (column.Type)
        {
            case VectorDataViewType { ItemType: var item } when item == NumberDataViewType.Byte:
                var decode = mlContext.Transforms.CopyColumns(ImageBytesDecoding.BytesColumn, column.Name)
                    .Append(mlContext.Transforms.CustomMapping(new ImageBytesDecoding().GetMapping(), ImageBytesDecoding.ContractName));
                var (rest, temporary) = FromImage(mlContext, ImageBytesDecoding.ImageColumn, shape);
                return (decode.Append(rest), PixelColumn, [ImageBytesDecoding.BytesColumn, ImageBytesDecoding.ImageColumn, .. temporary]);

            case ImageDataViewType:
                var (stages, temps) = FromImage(mlContext, column.Name, shape);
                return (stages, PixelColumn, temps);

            case VectorDataViewType vector when vector.ItemType == NumberDataViewType.Single && vector.IsKnownSize:
                if (vector.Size != shape.Size)
                    throw new ArgumentOutOfRangeException(nameof(column), $"Image column '{column.Name}' holds {vector.Size} floats per row; the model expects {shape.Channels}x{shape.Height}x{shape.Width} = {shape.Size}.");
                return (null, column.Name, []);

            default:
                throw new ArgumentOutOfRangeException(nameof(column),
                    $"Image column '{column.Name}' has type {column.Type}; expected encoded image bytes (Vector<Byte>, e.g. from LoadRawImageBytes), an image (from LoadImages) or a known-size Vector<Single> of pixels.");
        }
    }

    /// <summary>The image shape a float-vector column implies: dims [H, W] (one channel) or [C, H, W].</summary>
    public static ImageShape? ShapeOfPixelVector(DataViewType type) => type switch
    {
        VectorDataViewType { Dimensions: [var h, var w] } v when v.ItemType == NumberDataViewType.Single => new ImageShape(1, h, w),
        VectorDataViewType { Dimensions: [var c, var h, var w] } v when v.ItemType == NumberDataViewType.Single => new ImageShape(c, h, w),
        _ => null,
    };

    private static (IEstimator<ITransformer> Stages, string[] Temporary) FromImage(MLContext mlContext, string imageColumn, ImageShape shape)
    {
        if (shape.Channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(shape), $"Images can be read as 1 (grayscale) or 3 (RGB) channels, not {shape.Channels}.");
        var resize = mlContext.Transforms.ResizeImages(ResizedColumn, shape.Width, shape.Height, imageColumn, ImageResizingEstimator.ResizingKind.Fill);
        if (shape.Channels == 1)
        {
            var gray = resize.Append(mlContext.Transforms.ConvertToGrayscale(GrayColumn, ResizedColumn))
                .Append(mlContext.Transforms.ExtractPixels(PixelColumn, GrayColumn, ImagePixelExtractingEstimator.ColorBits.Red,
                    interleavePixelColors: false, outputAsFloatArray: true));
            return (gray, [ResizedColumn, GrayColumn, PixelColumn]);
        }
        var rgb = resize.Append(mlContext.Transforms.ExtractPixels(PixelColumn, ResizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
            orderOfExtraction: ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, outputAsFloatArray: true));
        return (rgb, [ResizedColumn, PixelColumn]);
    }
}
