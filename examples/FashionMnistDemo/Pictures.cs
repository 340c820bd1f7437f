using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Plots;
using Microsoft.ML.MixtureHeads.Training;

/// <summary>The demo's pictures, written next to the saved model.</summary>
internal static class Pictures
{
    /// <summary>Training curves, confusion matrix, head usage per block, per class and per patch of one test image.</summary>
    /// <returns>The PNG files written.</returns>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<TrainingMetrics> reports, MulticlassClassificationMetrics metrics,
        IDataView scored, string modelZip, IReadOnlyList<FashionMnistImage> testImages)
    {
        VBuffer<ReadOnlyMemory<char>> slots = default;
        scored.Schema["Score"].GetSlotNames(ref slots);
        var classNames = slots.DenseValues().Select(name => name.ToString()).ToList();
        var written = new List<string>();
        string Png(string name) { string path = Path.Combine(folder, name); written.Add(path); return path; }

        TrainingCurvesPlot.Save(reports, Png("training-curves.png"));
        ConfusionMatrixPlot.Save(metrics.ConfusionMatrix, classNames, Png("confusion-matrix.png"));
        if (reports.LastOrDefault()?.HeadUsage is { Count: > 0 } usage) HeadUsagePlot.SaveTraining(usage, Png("head-usage.png"));

        // The network rebuilt from the zip, as anyone holding only the saved model would.
        using var network = MixtureHeadsCheckpoint.FromZip(modelZip).CreateNetwork();
        var perClass = HeadUsageProbe.PerClass(network, testImages.Select(image => (image.Pixels, classNames.IndexOf(image.Label))), classNames);
        HeadUsagePlot.SavePerClass(perClass, Png("head-usage-per-class.png"));
        PatchHeadsPlot.Save(HeadUsageProbe.PerPatch(network, testImages[0].Pixels), Png("patch-heads.png"));
        return written;
    }
}
