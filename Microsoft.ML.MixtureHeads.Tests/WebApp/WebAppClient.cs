using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>A class and its probability, as the web app answers.</summary>
public sealed record ClassProbabilityDto(string Name, float Probability);

/// <summary>The web app's answer.</summary>
public sealed record ClassPredictionDto(string Predicted, List<ClassProbabilityDto> Top, float[] Probabilities);

/// <summary>Calls the web app's scoring endpoints as a client would.</summary>
internal static class WebAppClient
{
    public static async Task<HttpResponseMessage> PostImage(HttpClient client, byte[] image, string fileName)
    {
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", fileName);
        return await client.PostAsync("/api/image", form);
    }

    public static async Task<ClassPredictionDto> ClassifyImage(HttpClient client, byte[] image)
    {
        using var response = await PostImage(client, image, "image.png");
        return await Answer(response);
    }

    public static async Task<ClassPredictionDto> ScoreMail(HttpClient client, string text)
    {
        using var response = await client.PostAsJsonAsync("/api/spam", new { text });
        return await Answer(response);
    }

    private static async Task<ClassPredictionDto> Answer(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode) Assert.Fail($"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<ClassPredictionDto>())!;
    }
}
