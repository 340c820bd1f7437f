using System.Diagnostics;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using Xunit.Abstractions;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>
/// Data larger than <c>MaxInMemoryDataBytes</c> is streamed from the IDataView every epoch instead of being held as
/// decoded tensors: the 60,000 Fashion-MNIST training images decode to 188 MB of floats; with a 16 MB budget, training
/// keeps process memory flat.
/// </summary>
public sealed class StreamingTests(ITestOutputHelper output)
{
    private sealed class PixelRow
    {
        public string Label { get; set; } = "";

        [VectorType(1, 28, 28)]
        public float[] Pixels { get; set; } = [];
    }

    /// <summary>The rows, made as they are read: nothing but the IDX bytes is held.</summary>
    private static IEnumerable<PixelRow> Rows(FashionMnistData data)
    {
        for (int i = 0; i < data.Count; i++)
        {
            var pixels = data.Pixels(i);
            var values = new float[pixels.Length];
            for (int p = 0; p < values.Length; p++) values[p] = pixels[p];
            yield return new PixelRow { Label = FashionMnistData.ClassNames[data.Label(i)], Pixels = values };
        }
    }

    [Fact]
    public void Data_over_the_memory_budget_streams_and_process_memory_stays_flat()
    {
        var images = FashionMnistData.Read(FashionMnistSplit.Train);
        long decodedBytes = (long)images.Count * 28 * 28 * sizeof(float);
        const long Budget = 16L << 20;
        Assert.True(decodedBytes > 10 * Budget, $"the decoded images ({decodedBytes >> 20} MB) must be far over the budget");

        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("training rows")) lock (log) log.Add(e.Message); };
        var data = ml.Transforms.Conversion.MapValueToKey(nameof(PixelRow.Label)).Fit(ml.Data.LoadFromEnumerable(Rows(images.Take(100))))
            .Transform(ml.Data.LoadFromEnumerable(Rows(images)));
        var samples = new List<(int Step, long Rss)>();
        var process = Process.GetCurrentProcess();
        var options = new MoHImageClassificationTrainer.Options
        {
            ImageColumnName = nameof(PixelRow.Pixels), Model = TinyVisionTransformers.MoH with { Depth = 1 }, Epochs = 1, BatchSize = 256,
            LearningRate = 3e-3, HorizontalFlip = false, Seed = 2, LogEverySteps = 10, MaxInMemoryDataBytes = Budget,
            MetricsCallback = m =>
            {
                if (m.Phase != TrainingPhase.Step) return;
                // Garbage first (each streamed row is a new array): what stays is what training holds.
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                process.Refresh();
                samples.Add((m.Step, process.WorkingSet64));
            },
        };

        using var model = ml.MoHImageClassifier(options).Fit(data);

        Assert.Contains(log, m => m.Contains("Read 60,000 training rows") && m.Contains("streamed each epoch"));
        var afterWarmUp = samples.Where(s => s.Step >= 40).ToList();
        Assert.True(afterWarmUp.Count >= 15, $"{afterWarmUp.Count} samples after warm-up");
        long growth = afterWarmUp.Max(s => s.Rss) - afterWarmUp[0].Rss;
        output.WriteLine($"RSS after a full GC, by step: {string.Join(", ", samples.Select(s => $"{s.Step}:{s.Rss >> 20}MB"))}; growth after step 40: {growth >> 20} MB");
        Assert.True(growth < 100L << 20, $"RSS grew by {growth >> 20} MB after warm-up (samples: {string.Join(", ", afterWarmUp.Select(s => $"{s.Step}:{s.Rss >> 20}MB"))})");
        Assert.Equal(235, model.TrainingSummary.Epochs.Single().Step);
    }
}
