using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Plots;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Plots;

/// <summary>Every picture of the plots helper, drawn from a real short run: written, of the size asked, not blank,
/// and the head-usage numbers behind them consistent with the architecture's routing.</summary>
public sealed class PlotTests(PlotRunFixture run) : IClassFixture<PlotRunFixture>
{
    private static readonly VisionTransformerConfig Tiny = Estimators.TinyVisionTransformers.MoH;

    [Fact]
    public void Training_curves_show_step_reports_and_validation_at_each_epoch()
    {
        Assert.Contains(run.Reports, r => r.Phase == TrainingPhase.Step);
        Assert.Equal(3, run.Reports.Count(r => r.Phase == TrainingPhase.EpochEnd && r.ValidationAccuracy is not null));
        string path = Path.Combine(run.Folder, "training-curves.png");
        TrainingCurvesPlot.Save(run.Reports, path, width: 1200, height: 400);
        PngImage.AssertDrawn(path, 1200, 400);
    }

    [Fact]
    public void Confusion_matrix_is_drawn_with_the_class_names()
    {
        string path = Path.Combine(run.Folder, "confusion-matrix.png");
        ConfusionMatrixPlot.Save(run.Metrics.ConfusionMatrix, run.ClassNames, path, width: 800, height: 700);
        PngImage.AssertDrawn(path, 800, 700);
        Assert.Throws<ArgumentException>(() => ConfusionMatrixPlot.Save(run.Metrics.ConfusionMatrix, run.ClassNames.Take(3).ToList(), path));
    }

    [Fact]
    public void Training_head_usage_is_drawn_per_block_and_head()
    {
        var usage = run.Reports.Last().HeadUsage;
        Assert.Equal(Tiny.Depth, usage.Count);
        string path = Path.Combine(run.Folder, "head-usage.png");
        HeadUsagePlot.SaveTraining(usage, path, width: 600, height: 300);
        PngImage.AssertDrawn(path, 600, 300);
    }

    [Fact]
    public void Per_class_head_usage_sums_to_the_routed_top_k_and_is_drawn_per_block()
    {
        var usage = HeadUsageProbe.PerClass(run.Network, run.TestImages.Select(i => (i.Pixels, run.ClassIndex(i))), run.ClassNames);
        Assert.Equal(Tiny.Depth, usage.Usage.Count);
        foreach (var block in usage.Usage)
        {
            Assert.Equal((10, Tiny.Heads - Tiny.SharedHeads), (block.GetLength(0), block.GetLength(1)));
            for (int c = 0; c < 10; c++)
            {
                double sum = Enumerable.Range(0, block.GetLength(1)).Sum(h => block[c, h]);
                Assert.Equal(Tiny.RoutedTopK, sum, 6); // every token uses exactly top-k routed heads
            }
        }
        string path = Path.Combine(run.Folder, "head-usage-per-class.png");
        HeadUsagePlot.SavePerClass(usage, path, width: 1000, height: 500);
        PngImage.AssertDrawn(path, 1000, 500);
    }

    [Fact]
    public void Per_patch_heads_of_one_image_form_the_patch_grid_and_are_drawn_over_it()
    {
        var usage = HeadUsageProbe.PerPatch(run.Network, run.TestImages[0].Pixels);
        int side = Tiny.ImageSize / Tiny.PatchSize;
        Assert.Equal(Tiny.Depth, usage.Heads.Count);
        foreach (var grid in usage.Heads)
        {
            Assert.Equal((side, side), (grid.GetLength(0), grid.GetLength(1)));
            foreach (var heads in grid.Cast<int[]>()) Assert.Equal(Tiny.RoutedTopK, heads.Distinct().Count(h => h >= 0 && h < Tiny.Heads - Tiny.SharedHeads));
        }
        string path = Path.Combine(run.Folder, "patch-heads.png");
        PatchHeadsPlot.Save(usage, path, width: 1000, height: 500);
        PngImage.AssertDrawn(path, 1000, 500);
    }

    [Fact]
    public void Bad_input_gives_typed_errors()
    {
        Assert.Throws<ArgumentException>(() => TrainingCurvesPlot.Save([], Path.Combine(run.Folder, "none.png")));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingCurvesPlot.Save(run.Reports, Path.Combine(run.Folder, "tiny.png"), width: 10));
        var error = Assert.Throws<ArgumentException>(() => HeadUsageProbe.PerPatch(run.Network, new float[5]));
        Assert.Contains("784", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run.Folder, "none.png")));
    }
}
