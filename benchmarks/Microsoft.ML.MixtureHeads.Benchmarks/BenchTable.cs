using System.Globalization;
using System.Text;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>A titled table of strings, printed as Markdown.</summary>
public sealed class BenchTable(string title, params string[] columns)
{
    private readonly List<string[]> _rows = [];

    public string Title { get; } = title;
    public IReadOnlyList<string> Columns { get; } = columns;
    public IReadOnlyList<string[]> Rows => _rows;

    /// <summary>Notes printed under the table (targets, what was measured).</summary>
    public List<string> Notes { get; } = [];

    public void Add(params object[] cells)
    {
        if (cells.Length != Columns.Count) throw new ArgumentException($"Table '{Title}' has {Columns.Count} columns, row has {cells.Length}.");
        _rows.Add(cells.Select(Format).ToArray());
    }

    private static string Format(object cell) => cell switch
    {
        double d => d.ToString(Math.Abs(d) >= 100 ? "F0" : Math.Abs(d) >= 10 ? "F1" : "F3", CultureInfo.InvariantCulture),
        float f => Format((double)f),
        _ => Convert.ToString(cell, CultureInfo.InvariantCulture) ?? "",
    };

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine($"### {Title}").AppendLine();
        text.AppendLine("| " + string.Join(" | ", Columns) + " |");
        text.AppendLine("|" + string.Concat(Columns.Select(_ => "---|")));
        foreach (var row in _rows) text.AppendLine("| " + string.Join(" | ", row) + " |");
        foreach (var note in Notes) text.AppendLine().Append("- ").Append(note);
        if (Notes.Count > 0) text.AppendLine();
        return text.ToString();
    }
}
