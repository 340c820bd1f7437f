using System.Text.Json;
using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>The service's endpoints: health, image classification, spam scoring and the pictures saved with the image model.</summary>
public static class ScoringEndpoints
{
    /// <summary>Pictures the training demo writes next to the model, which the page shows when they are there.</summary>
    private static readonly string[] PictureNames = ["head-usage-per-class.png", "patch-heads.png", "head-usage.png", "training-curves.png", "confusion-matrix.png"];

    /// <summary>A mail to score.</summary>
    /// <param name="Text">The mail's text.</param>
    public sealed record MailRequest(string? Text);

    /// <summary>Maps every endpoint.</summary>
    public static void MapScoringEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", Health);
        app.MapPost("/api/image", ClassifyImage);
        app.MapPost("/api/spam", ScoreMail);
        app.MapGet("/pictures/{name}", Picture);
    }

    private static IResult Health() => Results.Ok(new
    {
        Status = "ok",
        Image = ImageModel.Instance.IsConfigured ? new { Classes = ImageModel.Instance.Model.ClassNames, Pictures = Pictures() } : null,
        Spam = SpamModel.Instance.IsConfigured ? new { Classes = SpamModel.Instance.Model.ClassNames } : null,
    });

    private static async Task<IResult> ClassifyImage(HttpRequest request, CancellationToken cancel)
    {
        if (!ImageModel.Instance.IsConfigured) return Results.NotFound(new { Error = "This service has no image model (start it with --ImageModel PATH.zip)." });
        if (!request.HasFormContentType) return BadRequest("Send the image as multipart/form-data in a field named 'image'.");
        var form = await request.ReadFormAsync(cancel);
        var file = form.Files["image"];
        if (file is null) return BadRequest("The form has no file field named 'image'.");
        if (file.Length == 0) return BadRequest("The uploaded image is empty.");
        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, cancel);
        try
        {
            return Results.Ok(ImageModel.Predict(new ImageModel.ModelInput { Image = bytes }));
        }
        catch (Exception e) when (Find<ImageDecodingException>(e) is { } decoding)
        {
            return BadRequest($"'{file.FileName}' is not an image this service can decode: {decoding.Message}");
        }
    }

    private static async Task<IResult> ScoreMail(HttpRequest request, CancellationToken cancel)
    {
        if (!SpamModel.Instance.IsConfigured) return Results.NotFound(new { Error = "This service has no spam model (start it with --SpamModel PATH.zip)." });
        if (!request.HasJsonContentType()) return BadRequest("Send JSON: { \"text\": \"the mail\" }.");
        MailRequest? mail;
        try
        {
            mail = await request.ReadFromJsonAsync<MailRequest>(cancel);
        }
        catch (JsonException e)
        {
            return BadRequest($"The body is not valid JSON: {e.Message}");
        }
        if (string.IsNullOrWhiteSpace(mail?.Text)) return BadRequest("The mail text is missing or empty: send { \"text\": \"the mail\" }.");
        if (mail.Text.Length > InputLimits.MaxTextCharacters)
            return BadRequest($"The mail has {mail.Text.Length:N0} characters; at most {InputLimits.MaxTextCharacters:N0} are accepted.");
        return Results.Ok(SpamModel.Predict(new SpamModel.ModelInput { Text = mail.Text }));
    }

    private static IResult Picture(string name)
    {
        string? path = Pictures().Contains(name) ? Path.Combine(Path.GetDirectoryName(ImageModel.Instance.Model.Path)!, name) : null;
        return path is null ? Results.NotFound() : Results.File(path, "image/png");
    }

    /// <summary>The known pictures that sit next to the image model.</summary>
    private static string[] Pictures() => ImageModel.Instance.IsConfigured
        ? PictureNames.Where(name => File.Exists(Path.Combine(Path.GetDirectoryName(ImageModel.Instance.Model.Path)!, name))).ToArray()
        : [];

    private static IResult BadRequest(string error) => Results.BadRequest(new { Error = error });

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T found) return found;
        return null;
    }
}
