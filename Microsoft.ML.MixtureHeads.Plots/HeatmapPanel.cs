using ScottPlot;

namespace Microsoft.ML.MixtureHeads.Plots;

/// <summary>One heatmap panel with a row label and a column label per cell, and optionally each value written in its cell.</summary>
internal static class HeatmapPanel
{
    /// <summary>A plot of <paramref name="values"/> [rows, columns]; row 0 at the top.</summary>
    public static Plot Create(double[,] values, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string title, string xLabel, string yLabel, Func<double, string>? cellText)
    {
        int rows = values.GetLength(0), columns = values.GetLength(1);
        var plot = new Plot();
        var colormap = new ScottPlot.Colormaps.Viridis();
        double finiteMax = values.Cast<double>().Where(double.IsFinite).DefaultIfEmpty(0).Max();
        double finiteMin = values.Cast<double>().Where(double.IsFinite).DefaultIfEmpty(0).Min();
        // Each cell is a unit square centred on integer coordinates, so it sits exactly where its ticks and text are.
        for (int row = 0; row < rows; row++)
            for (int column = 0; column < columns; column++)
            {
                double value = values[row, column], y = RowY(row, rows);
                double position = finiteMax > finiteMin ? (value - finiteMin) / (finiteMax - finiteMin) : 0.5;
                var cell = plot.Add.Rectangle(column - 0.5, column + 0.5, y - 0.5, y + 0.5);
                cell.FillColor = double.IsFinite(value) ? colormap.GetColor(position) : Colors.LightGray;
                cell.LineWidth = 0;
                if (cellText is not null)
                {
                    var text = plot.Add.Text(cellText(value), column, y);
                    text.Alignment = Alignment.MiddleCenter;
                    text.LabelStyle.FontSize = 11;
                    text.LabelStyle.ForeColor = position < 0.6 ? Colors.White : Colors.Black; // Viridis is dark at its low end
                }
            }

        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, columns).Select(c => (double)c).ToArray(), columnLabels.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(r => RowY(r, rows)).ToArray(), rowLabels.ToArray());
        if (columnLabels.Any(l => l.Length > 3))
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            plot.Axes.Bottom.MinimumSize = 7 * columnLabels.Max(l => l.Length) + 30; // room for the slanted names above the axis title
        }
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        return plot;
    }

    /// <summary>Where row <paramref name="row"/>'s cells are centred: row 0 at the top, as a matrix is read.</summary>
    private static double RowY(int row, int rows) => rows - 1 - row;
}
