using Microsoft.ML.MixtureHeads.Training;
using ScottPlot;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>Loss, accuracy and learning rate against the optimizer step, training next to validation.</summary>
public static class TrainingCurvesPlot
{
    /// <summary>
    /// Writes three panels to a PNG: loss, accuracy and learning rate per reported step (the <c>MetricsCallback</c>
    /// reports), with the validation loss and accuracy at each epoch's end.
    /// </summary>
    /// <param name="reports">Every report of a run, as <c>MetricsCallback</c> received them (or a <c>TrainingSummary.Epochs</c>).</param>
    /// <param name="path">The PNG to write; its folder is created.</param>
    /// <param name="width">Image width in pixels (at least 100).</param>
    /// <param name="height">Image height in pixels (at least 100).</param>
    /// <exception cref="ArgumentException">No report, or an empty path.</exception>
    public static void Save(IEnumerable<TrainingMetrics> reports, string path, int width = 1500, int height = 450)
    {
        ArgumentNullException.ThrowIfNull(reports);
        PanelImage.CheckTarget(path, width, height);
        var all = reports.OrderBy(r => r.Step).ToList();
        if (all.Count == 0) throw new ArgumentException("There is no training report to plot.", nameof(reports));
        var steps = all.Where(r => r.Phase == TrainingPhase.Step).ToList();
        var train = steps.Count > 0 ? steps : all;
        var epochEnds = all.Where(r => r.Phase == TrainingPhase.EpochEnd).ToList();

        var loss = Panel("Loss", "cross-entropy");
        Line(loss, train, r => r.Loss, "training", Colors.C0);
        Line(loss, epochEnds.Where(r => r.ValidationLoss is not null), r => r.ValidationLoss!.Value, "validation", Colors.C1);

        var accuracy = Panel("Accuracy", "accuracy");
        Line(accuracy, train.Where(r => r.Accuracy is not null), r => r.Accuracy!.Value, "training", Colors.C0);
        Line(accuracy, epochEnds.Where(r => r.ValidationAccuracy is not null), r => r.ValidationAccuracy!.Value, "validation", Colors.C1);

        var learningRate = Panel("Learning rate", "learning rate");
        Line(learningRate, train, r => r.LearningRate, "schedule", Colors.C2);

        PanelImage.Save([loss, accuracy, learningRate], columns: 3, path, width, height);
    }

    private static Plot Panel(string title, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel("optimizer step");
        plot.YLabel(yLabel);
        return plot;
    }

    private static void Line(Plot plot, IEnumerable<TrainingMetrics> reports, Func<TrainingMetrics, double> value, string legend, Color color)
    {
        var points = reports.ToList();
        if (points.Count == 0) return;
        var line = plot.Add.Scatter(points.Select(r => (double)r.Step).ToArray(), points.Select(value).ToArray(), color);
        line.LegendText = legend;
        line.MarkerSize = points.Count > 30 ? 0 : 5;
        plot.ShowLegend(Alignment.UpperRight);
    }
}
