using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>An ML.NET confusion matrix as a heatmap: true classes down, predicted classes across, counts in the cells.</summary>
public static class ConfusionMatrixPlot
{
    /// <summary>Writes the confusion matrix of a multiclass evaluation (<c>metrics.ConfusionMatrix</c>) to a PNG.</summary>
    /// <param name="matrix">The evaluator's confusion matrix.</param>
    /// <param name="classNames">The class names in label-key order (e.g. the <c>Score</c> column's slot names).</param>
    /// <param name="path">The PNG to write; its folder is created.</param>
    /// <param name="width">Image width in pixels (at least 100).</param>
    /// <param name="height">Image height in pixels (at least 100).</param>
    /// <exception cref="ArgumentException">The class names do not match the matrix's class count, or the path is empty.</exception>
    public static void Save(ConfusionMatrix matrix, IReadOnlyList<string> classNames, string path, int width = 900, int height = 800)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(classNames);
        PanelImage.CheckTarget(path, width, height);
        int classes = matrix.NumberOfClasses;
        if (classNames.Count != classes)
            throw new ArgumentException($"The confusion matrix has {classes} classes but {classNames.Count} class names were given.", nameof(classNames));
        var counts = new double[classes, classes];
        for (int actual = 0; actual < classes; actual++)
            for (int predicted = 0; predicted < classes; predicted++)
                counts[actual, predicted] = matrix.Counts[actual][predicted];
        var plot = HeatmapPanel.Create(counts, classNames, classNames, "Confusion matrix", "predicted class", "true class",
            count => count.ToString("0", CultureInfo.InvariantCulture));
        PanelImage.Save([plot], columns: 1, path, width, height);
    }
}
