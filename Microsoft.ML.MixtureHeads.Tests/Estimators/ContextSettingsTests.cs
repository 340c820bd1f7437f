using System.Reflection;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Estimators;

/// <summary>The MLContext settings a trainer honours: CancelExecution(), TempFilePath, GpuDeviceId and FallbackToCpu.</summary>
public sealed class ContextSettingsTests : IDisposable
{
    private static readonly FashionMnistData Images = FashionMnistData.Read(FashionMnistSplit.Train).Take(400);
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("mixtureheads-context-");

    public void Dispose() => _temp.Delete(recursive: true);

    private static IDataView Pixels(MLContext ml)
    {
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Images.ToDataView(ml)).Transform(Images.ToDataView(ml));
        return ml.Transforms.DropColumns(nameof(FashionMnistImage.Image)).Fit(data).Transform(data);
    }

    private static MoHImageClassificationTrainer.Options Tiny(int epochs = 1) => new()
    {
        ImageColumnName = nameof(FashionMnistImage.Pixels), Model = TinyVisionTransformers.MoH, Epochs = epochs, BatchSize = 40, LogEverySteps = 1, Seed = 3,
    };

    /// <summary>What Microsoft.ML.Experimental's <c>mlContext.CancelExecution()</c> extension calls (MLContext keeps the
    /// method internal; that package is not served here).</summary>
    private static void CancelExecution(MLContext ml) =>
        typeof(MLContext).GetMethod("CancelExecution", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(ml, null);

    [Fact]
    public void CancelExecution_stops_training_at_the_next_step_and_returns_the_model_so_far()
    {
        var ml = new MLContext(seed: 1);
        var steps = new List<int>();
        var options = Tiny(epochs: 20);
        options.MetricsCallback = m => { steps.Add(m.Step); if (m.Step == 5) CancelExecution(ml); };

        using var model = ml.MulticlassClassification.Trainers.MoHImageClassification(options).Fit(Pixels(new MLContext(1)));

        Assert.True(model.TrainingSummary.Cancelled);
        Assert.Equal(5, steps.Max());
    }

    [Fact]
    public void The_exported_model_file_lives_in_TempFilePath_until_the_model_is_disposed()
    {
        var ml = new MLContext(seed: 1) { TempFilePath = _temp.FullName };
        var model = ml.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(Pixels(ml));
        var file = Assert.Single(_temp.GetFiles("mixtureheads-*.onnx"));
        model.Dispose();
        Assert.False(File.Exists(file.FullName));
    }

    [Fact]
    public void A_GpuDeviceId_without_that_GPU_fails_naming_it_unless_FallbackToCpu()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // this checks the CPU-only behaviour
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var error = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(Pixels(ml)));
        Assert.Contains("MLContext.GpuDeviceId is 0", error.Message);

        var fallback = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var warnings = new List<string>();
        fallback.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) lock (warnings) warnings.Add(e.Message); };
        using var model = fallback.MulticlassClassification.Trainers.MoHImageClassification(Tiny()).Fit(Pixels(fallback));
        Assert.Contains(warnings, w => w.Contains("training on the CPU (FallbackToCpu)"));
        Assert.Equal(TorchSharp.DeviceType.CPU, model.Network.Module.parameters().First().device_type);
    }
}
