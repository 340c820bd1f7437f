using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>
/// Trains the two tiny models once, starts examples/WebApp (its build output, as a deployed app runs) on a free port of
/// 127.0.0.1 pointing at them, and loads the same zips in this process for the expected scores.
/// </summary>
public sealed partial class WebAppFixture : IDisposable
{
    private readonly Process _server;
    private readonly List<string> _serverOutput = [];

    public WebAppFixture()
    {
        Folder = TestArtefacts.Folder("webapp");
        ImageZip = WebAppModels.TrainImageModel(Folder);
        SpamZip = WebAppModels.TrainSpamModel(Folder);
        var ml = new MLContext();
        ImageModel = ml.Model.Load(ImageZip, out var imageSchema);
        SpamModel = ml.Model.Load(SpamZip, out var spamSchema);
        ImageClasses = ClassNames(ImageModel.GetOutputSchema(imageSchema));
        SpamClasses = ClassNames(SpamModel.GetOutputSchema(spamSchema));
        ImageEngine = ml.Model.CreatePredictionEngine<ImageRow, ScoreRow>(ImageModel);
        SpamEngine = ml.Model.CreatePredictionEngine<MailRow, ScoreRow>(SpamModel);

        string root = DotnetProcess.RepositoryRoot();
        string app = Path.Combine(root, "examples", "WebApp", "bin", DotnetProcess.Configuration, "net10.0", "WebApp.dll");
        Assert.True(File.Exists(app), $"{app} is not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(app)! };
        foreach (string argument in new[] { app, "--urls", "http://127.0.0.1:0", "--ImageModel", ImageZip, "--SpamModel", SpamZip })
            start.ArgumentList.Add(argument);
        start.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Information";
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        _server = Process.Start(start)!;
        _server.OutputDataReceived += (_, e) => Received(e.Data, listening);
        _server.ErrorDataReceived += (_, e) => Received(e.Data, listening);
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        _server.EnableRaisingEvents = true;
        _server.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"The web app exited {_server.ExitCode}:\n{ServerOutput}"));
        Assert.True(listening.Task.Wait(TimeSpan.FromMinutes(2)), $"The web app did not start listening:\n{ServerOutput}");
        BaseAddress = listening.Task.Result;
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Folder { get; }
    public string ImageZip { get; }
    public string SpamZip { get; }
    public ITransformer ImageModel { get; }
    public ITransformer SpamModel { get; }
    public IReadOnlyList<string> ImageClasses { get; }
    public IReadOnlyList<string> SpamClasses { get; }
    public PredictionEngine<ImageRow, ScoreRow> ImageEngine { get; }
    public PredictionEngine<MailRow, ScoreRow> SpamEngine { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }

    public string ServerOutput { get { lock (_serverOutput) return string.Join('\n', _serverOutput); } }

    private void Received(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null) return;
        lock (_serverOutput) _serverOutput.Add(line);
        if (ListeningOn().Match(line) is { Success: true } match) listening.TrySetResult(new Uri(match.Groups["url"].Value));
    }

    private static List<string> ClassNames(DataViewSchema scored)
    {
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored["Score"].GetSlotNames(ref slots);
        return slots.DenseValues().Select(name => name.ToString()).ToList();
    }

    [GeneratedRegex(@"Now listening on: (?<url>http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();

    public void Dispose()
    {
        Client.Dispose();
        if (!_server.HasExited)
        {
            _server.Kill();
            _server.WaitForExit(10_000);
        }
        _server.Dispose();
    }
}
