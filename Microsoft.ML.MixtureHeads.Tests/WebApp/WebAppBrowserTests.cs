using Microsoft.Playwright;
using Microsoft.ML.MixtureHeads.Tests.Plots;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>The web app's page in a real browser: Debian's chromium, headless, driven by Playwright, reaching only 127.0.0.1.</summary>
[Collection(WebAppCollection.Name)]
public sealed class WebAppBrowserTests(WebAppFixture app)
{
    private const string Chromium = "/usr/bin/chromium"; // Debian's package, installed by build.sh deps

    [Fact]
    public async Task Uploading_an_image_and_pasting_a_mail_show_the_predicted_classes()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run ./build.sh deps (it installs Debian's chromium)");
        string imagePath = Path.Combine(app.Folder, "upload.png");
        await File.WriteAllBytesAsync(imagePath, Samples.Images[1]);
        string expectedClass = app.ImageClasses[ArgMax(app.ImageEngine.Predict(new ImageRow { Image = Samples.Images[1] }).Score)];
        string mail = Samples.Mails[1];
        string expectedMail = app.SpamClasses[ArgMax(app.SpamEngine.Predict(new MailRow { Text = mail }).Score)];

        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1100, Height = 900 } });
        // Nothing but the app under test: any other address is refused before it leaves the browser.
        await page.RouteAsync("**/*", route => new Uri(route.Request.Url).Host == app.BaseAddress.Host ? route.ContinueAsync() : route.AbortAsync());
        await page.GotoAsync(app.BaseAddress.ToString());

        await page.SetInputFilesAsync("#image-file", imagePath);
        Assert.Equal(expectedClass, await page.Locator("#image-result .predicted").TextContentAsync());
        Assert.Equal(5, await page.Locator("#image-result tr").CountAsync()); // the top 5 of 10 classes

        await page.FillAsync("#mail-text", mail);
        await page.ClickAsync("#mail-score");
        Assert.Equal(expectedMail, await page.Locator("#spam-result .predicted").TextContentAsync());
        await page.Locator("#pictures img").WaitForAsync();

        string screenshot = Path.Combine(app.Folder, "web-app.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        var picture = PngImage.Read(screenshot);
        PngImage.AssertDrawn(screenshot, 1100, picture.Height);
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
