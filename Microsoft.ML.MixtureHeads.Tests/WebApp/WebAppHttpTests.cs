using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>The web app's endpoints over HTTP: health, answers equal to in-process scoring, clear errors for bad input.</summary>
[Collection(WebAppCollection.Name)]
public sealed class WebAppHttpTests(WebAppFixture app)
{
    [Fact]
    public async Task Health_lists_both_models_with_their_classes_and_the_pictures_next_to_the_image_model()
    {
        using var health = JsonDocument.Parse(await app.Client.GetStringAsync("/health"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Equal(10, health.RootElement.GetProperty("image").GetProperty("classes").GetArrayLength());
        Assert.Equal(2, health.RootElement.GetProperty("spam").GetProperty("classes").GetArrayLength());
        Assert.Equal(["head-usage-per-class.png"], health.RootElement.GetProperty("image").GetProperty("pictures").EnumerateArray().Select(p => p.GetString()));
        var picture = await app.Client.GetAsync("/pictures/head-usage-per-class.png");
        Assert.Equal("image/png", picture.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync("/pictures/..%2Fimage-model.zip")).StatusCode);
    }

    [Fact]
    public async Task Image_and_mail_answers_equal_in_process_scoring()
    {
        var image = await WebAppClient.ClassifyImage(app.Client, Samples.Images[0]);
        Assert.Equal(app.ImageEngine.Predict(new ImageRow { Image = Samples.Images[0] }).Score, image.Probabilities);
        Assert.Equal(image.Top[0].Name, image.Predicted);
        var mail = await WebAppClient.ScoreMail(app.Client, Samples.Mails[0]);
        Assert.Equal(app.SpamEngine.Predict(new MailRow { Text = Samples.Mails[0] }).Score, mail.Probabilities);
        Assert.Contains(mail.Predicted, new[] { "spam", "ham" });
    }

    [Fact]
    public async Task Bad_input_gets_400_with_a_message_and_oversized_input_413()
    {
        await AssertError(await WebAppClient.PostImage(app.Client, [], "empty.png"), HttpStatusCode.BadRequest, "empty");
        await AssertError(await WebAppClient.PostImage(app.Client, Encoding.UTF8.GetBytes("not an image"), "notes.txt"), HttpStatusCode.BadRequest, "not an image");
        await AssertError(await app.Client.PostAsync("/api/image", new StringContent("x")), HttpStatusCode.BadRequest, "multipart/form-data");
        await AssertError(await app.Client.PostAsJsonAsync("/api/spam", new { text = "" }), HttpStatusCode.BadRequest, "missing or empty");
        await AssertError(await app.Client.PostAsync("/api/spam", new StringContent("{ \"text\": ", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "not valid JSON");
        await AssertError(await app.Client.PostAsJsonAsync("/api/spam", new { text = new string('a', 100_001) }), HttpStatusCode.BadRequest, "at most 100,000");
        var tooLarge = await WebAppClient.PostImage(app.Client, new byte[3 * 1024 * 1024], "huge.png");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string messagePart)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        Assert.Contains(messagePart, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
