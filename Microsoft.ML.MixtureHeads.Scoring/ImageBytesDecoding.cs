using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>Input row of the image-decoding stage: encoded image bytes (PNG, JPEG, BMP, ...).</summary>
public sealed class EncodedImageRow
{
    /// <summary>The encoded bytes, copied here from the user's image column.</summary>
    [ColumnName(ImageBytesDecoding.BytesColumn)]
    public byte[] Bytes { get; set; } = [];
}

/// <summary>Output row of the image-decoding stage.</summary>
public sealed class DecodedImageRow
{
    /// <summary>The decoded image. Its declared 1x1 size is nominal: the resize stage that always follows fixes the real size.</summary>
    [ColumnName(ImageBytesDecoding.ImageColumn), ImageType(1, 1)]
    public MLImage? Image { get; set; }
}

/// <summary>
/// The one pre-processing step ML.NET has no standard stage for: encoded bytes (as <c>LoadRawImageBytes</c> gives,
/// the <c>ImageClassificationTrainer</c> contract) to an <see cref="MLImage"/>. It is stateless, so a saved model
/// records only this contract name and assembly, and <c>mlContext.Model.Load</c> finds it again by itself.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ImageBytesDecoding : CustomMappingFactory<EncodedImageRow, DecodedImageRow>
{
    /// <summary>The contract name recorded in saved models.</summary>
    public const string ContractName = "Microsoft.ML.MixtureHeads.DecodeImageBytes";

    /// <summary>The column the stage reads: a copy of the user's image-bytes column.</summary>
    public const string BytesColumn = "__MoH_ImageBytes";

    /// <summary>The column the stage writes: the decoded image.</summary>
    public const string ImageColumn = "__MoH_Image";

    /// <inheritdoc />
    public override Action<EncodedImageRow, DecodedImageRow> GetMapping() => Decode;

    private static void Decode(EncodedImageRow input, DecodedImageRow output) => output.Image = Decode(input.Bytes);

    /// <summary>The image <paramref name="bytes"/> encode.</summary>
    /// <exception cref="ImageDecodingException">The bytes are empty, cut short, damaged, or not an image ML.NET can decode.</exception>
    public static MLImage Decode(byte[] bytes)
    {
        if (bytes.Length == 0) throw new ImageDecodingException("An image column value is empty: expected encoded image bytes (PNG, JPEG, BMP, ...).");
        CheckComplete(bytes);
        try
        {
            return MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            throw new ImageDecodingException($"Image bytes ({bytes.Length} bytes) could not be decoded: {e.Message}", e);
        }
    }

    /// <summary>
    /// ML.NET's decoder (SkiaSharp's <c>SKBitmap.Decode</c>) accepts a file cut short and fills the missing rows with
    /// made-up pixels; SkiaSharp's codec reports it (<see cref="SKCodecResult.IncompleteInput"/>), so the bytes are
    /// decoded once through the codec first and refused when any part is missing or damaged.
    /// </summary>
    private static void CheckComplete(byte[] bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) return;   // not a format the codec knows: ML.NET's decoder gives the error
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput)
            throw new ImageDecodingException(
                $"Image bytes ({bytes.Length} bytes) are {(result == SKCodecResult.IncompleteInput ? "cut short" : "damaged")}: the {codec.EncodedFormat} " +
                $"decoder could not read every row of the {codec.Info.Width}x{codec.Info.Height} image ({result}).");
        if (result != SKCodecResult.Success)
            throw new ImageDecodingException($"Image bytes ({bytes.Length} bytes) could not be decoded: the {codec.EncodedFormat} decoder says {result}.");
    }
}

/// <summary>An image column value that is not an encoded image ML.NET can decode (empty, truncated, another format).</summary>
public sealed class ImageDecodingException : FormatException
{
    /// <summary>Creates the error.</summary>
    public ImageDecodingException(string message, Exception? inner = null) : base(message, inner) { }
}
