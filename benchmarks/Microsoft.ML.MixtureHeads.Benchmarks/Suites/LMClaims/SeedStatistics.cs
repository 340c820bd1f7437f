using System.Globalization;

namespace Microsoft.ML.MixtureHeads.Benchmarks.LMClaims;

/// <summary>Mean and sample standard deviation of one figure over seeds, with its min and max.</summary>
internal sealed record SeedStatistics(IReadOnlyList<double> Values)
{
    public double Mean => Values.Average();

    /// <summary>Sample standard deviation (n - 1); 0 for one value.</summary>
    public double StandardDeviation => Values.Count < 2 ? 0 : Math.Sqrt(Values.Sum(v => (v - Mean) * (v - Mean)) / (Values.Count - 1));

    public double Min => Values.Min();
    public double Max => Values.Max();

    /// <summary>"mean ± sd" with <paramref name="decimals"/> decimals.</summary>
    public string Format(int decimals = 2) => string.Create(CultureInfo.InvariantCulture, $"{Mean.ToString("F" + decimals, CultureInfo.InvariantCulture)} ± {StandardDeviation.ToString("F" + decimals, CultureInfo.InvariantCulture)}");

    /// <summary>The values themselves, comma-separated.</summary>
    public string List(int decimals = 2) => string.Join(", ", Values.Select(v => v.ToString("F" + decimals, CultureInfo.InvariantCulture)));
}
