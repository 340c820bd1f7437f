using Microsoft.ML.MixtureHeads.Plots;
using ScottPlot;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>The PNGs of docs/results.md: perplexity with error bars, conversion curves, routing usage.</summary>
internal static class ClaimPlots
{
    /// <summary>Mean validation perplexity per variant with ± 1 sd error bars and every seed's value as a dot.</summary>
    public static void Ordering(IReadOnlyList<OrderingRow> rows, int seeds, int steps, string path) =>
        SeedBars($"Brown validation perplexity after {steps} steps ({seeds} seed{(seeds == 1 ? "" : "s")}, mean ± sd)", "perplexity (bytes)",
            rows.Select(r => (r.Name, r.Perplexity, Highlight: r.Name.Contains("BitNet", StringComparison.Ordinal))).ToList(), path);

    /// <summary>One bar per variant at its mean over seeds with ± 1 sd error bars, every seed's value as a dot;
    /// highlighted variants in the second colour.</summary>
    public static void SeedBars(string title, string yLabel, IReadOnlyList<(string Name, SeedStatistics Values, bool Highlight)> rows, string path)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.YLabel(yLabel);
        for (int i = 0; i < rows.Count; i++)
        {
            var color = rows[i].Highlight ? Colors.C1 : Colors.C0;
            plot.Add.Bar(new Bar { Position = i, Value = rows[i].Values.Mean, Error = rows[i].Values.StandardDeviation, FillColor = color.WithAlpha(0.6) });
            plot.Add.Markers(rows[i].Values.Values.Select(_ => (double)i).ToArray(), rows[i].Values.Values.ToArray(), MarkerShape.FilledCircle, 4, Colors.Black);
        }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray(), rows.Select(r => r.Name).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        double low = rows.Min(r => r.Values.Min), high = rows.Max(r => r.Values.Max);
        plot.Axes.SetLimitsY(low - 0.15 * (high - low) - 0.01, high + 0.15 * (high - low) + 0.01);
        // The names run down to the right at 30 degrees: room for the longest beside the last bar and below the axis (~6 px a character).
        int longest = rows.Max(r => r.Name.Length);
        plot.Layout.Fixed(new PixelPadding(70, Math.Min(450, 20 + 5 * longest), 40 + 3 * longest, 40));
        Save(plot, path, 1100, 600);
    }

    /// <summary>Validation perplexity along continued training for each arm (mean over seeds), starting from the converted model.</summary>
    public static void Conversion(ConversionResult result, string path)
    {
        var plot = new Plot();
        plot.Title($"Continued training after conversion (dense start: {result.DensePerplexity.Format(3)})");
        plot.XLabel("continued-training step");
        plot.YLabel("validation perplexity (bytes)");
        Color[] colors = [Colors.C0, Colors.C1, Colors.C2, Colors.C3];
        for (int a = 0; a < result.Arms.Count; a++)
        {
            var arm = result.Arms[a];
            var steps = arm.Curves[0].Select(p => (double)p.Step).ToArray();
            var mean = Enumerable.Range(0, steps.Length).Select(i => arm.Curves.Average(c => c[i].Perplexity)).ToArray();
            var line = plot.Add.Scatter(steps, mean, colors[a % colors.Length]);
            line.LegendText = arm.Name;
        }
        plot.Add.HorizontalLine(result.DensePerplexity.Mean, 1, Colors.Gray, LinePattern.Dashed).LegendText = "dense before continuing";
        plot.Axes.SetLimitsY(0.97 * result.Arms.Min(a => a.Curves.Min(c => c.Min(p => p.Perplexity))), 1.1 * result.Arms.Max(a => a.Curves.Max(c => c.Skip(1).Max(p => p.Perplexity))));
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path, 1000, 550);
    }

    /// <summary>One panel per balance-loss weight and kind (routed heads, experts): the share per head/expert, per layer.</summary>
    public static void Usage(IReadOnlyList<(string Label, RoutingUsage Usage)> runs, string path)
    {
        var panels = new List<Plot>();
        foreach (var (label, usage) in runs)
        {
            panels.Add(Panel($"Routed-head usage, {label}", "routed head (per layer)", "share of tokens", usage.HeadUsage));
            panels.Add(Panel($"Expert load, {label}", "expert (per expert layer)", "share of assignments", usage.ExpertLoad));
        }
        PanelImage.Save(panels, columns: 2, path, 1600, 450 * runs.Count);
    }

    private static Plot Panel(string title, string xLabel, string yLabel, IReadOnlyList<double[]> layers)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        Color[] colors = [Colors.C0, Colors.C1, Colors.C2, Colors.C3, Colors.C4, Colors.C5];
        double position = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            foreach (double share in layers[l])
                plot.Add.Bar(new Bar { Position = position++, Value = share, FillColor = colors[l % colors.Length] });
            position += 1;   // a gap between layers
        }
        plot.Axes.Margins(bottom: 0);
        return plot;
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, width, height);
    }
}
