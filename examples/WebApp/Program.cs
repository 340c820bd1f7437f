// A web service over saved Microsoft.ML.MixtureHeads models: loads the .zip files once at start-up and scores them
// from any request thread. Run it next to trained models:
//   dotnet run --project examples/WebApp -- --ImageModel /tmp/fashion-mnist-moh-vit/model.zip --SpamModel spam.zip
// then open the page it prints ("Now listening on ...").
using Microsoft.AspNetCore.Http.Features;
using Microsoft.ML.MixtureHeads.Samples.WebApp;

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = InputLimits.MaxRequestBytes);
builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = InputLimits.MaxImageBytes);

// Loaded here, not on the first request: a bad path fails the start, and no user waits for the load.
if (builder.Configuration["ImageModel"] is { Length: > 0 } imageZip) ImageModel.Instance.UseModel(imageZip);
if (builder.Configuration["SpamModel"] is { Length: > 0 } spamZip) SpamModel.Instance.UseModel(spamZip);
if (!ImageModel.Instance.IsConfigured && !SpamModel.Instance.IsConfigured)
{
    Console.Error.WriteLine("No model to serve: pass --ImageModel PATH.zip and/or --SpamModel PATH.zip.");
    return 2;
}
if (ImageModel.Instance.IsConfigured) _ = ImageModel.Instance.Model;
if (SpamModel.Instance.IsConfigured) _ = SpamModel.Instance.Model;

var app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapScoringEndpoints();
app.Run();
return 0;
