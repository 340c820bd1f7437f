using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>A bounded load test on 127.0.0.1: concurrent clients, a fixed number of requests, every answer checked.</summary>
[Collection(WebAppCollection.Name)]
public sealed class WebAppLoadTests(WebAppFixture app, ITestOutputHelper output)
{
    private const int Clients = 8, Requests = 2000;

    [Fact]
    public async Task Eight_concurrent_clients_get_2000_answers_equal_to_in_process_scoring()
    {
        // What each request must answer, scored in this process from the same zips.
        var expectedImages = Samples.Images.Select(image => app.ImageEngine.Predict(new ImageRow { Image = image }).Score).ToList();
        var expectedMails = Samples.Mails.Select(text => app.SpamEngine.Predict(new MailRow { Text = text }).Score).ToList();
        var latencies = new ConcurrentBag<double>();
        var mismatches = new ConcurrentBag<string>();
        int next = -1;
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var total = Stopwatch.StartNew();
        var clients = Enumerable.Range(0, Clients).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < Requests && !limit.IsCancellationRequested; i = Interlocked.Increment(ref next))
            {
                int sample = i / 2 % Samples.Images.Count;
                var watch = Stopwatch.StartNew();
                var answer = i % 2 == 0
                    ? await WebAppClient.ClassifyImage(app.Client, Samples.Images[sample])
                    : await WebAppClient.ScoreMail(app.Client, Samples.Mails[sample]);
                latencies.Add(watch.Elapsed.TotalMilliseconds);
                var expected = i % 2 == 0 ? expectedImages[sample] : expectedMails[sample];
                if (!answer.Probabilities.SequenceEqual(expected)) mismatches.Add($"request {i}: [{string.Join(", ", answer.Probabilities)}] != [{string.Join(", ", expected)}]");
            }
        })).ToArray();
        await Task.WhenAll(clients);
        total.Stop();

        Assert.False(limit.IsCancellationRequested, $"the load test did not finish in 3 minutes ({latencies.Count} answers)");
        Assert.Empty(mismatches);
        Assert.Equal(Requests, latencies.Count);
        var sorted = latencies.Order().ToArray();
        string summary = string.Create(CultureInfo.InvariantCulture,
            $"{Requests} requests (half images, half mails) from {Clients} clients in {total.Elapsed.TotalSeconds:F1} s: " +
            $"p50 {Percentile(sorted, 0.50):F1} ms, p99 {Percentile(sorted, 0.99):F1} ms, max {sorted[^1]:F1} ms, {Requests / total.Elapsed.TotalSeconds:F0} requests/s");
        output.WriteLine(summary);
        await File.WriteAllTextAsync(Path.Combine(app.Folder, "load-test.txt"), summary + Environment.NewLine);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
