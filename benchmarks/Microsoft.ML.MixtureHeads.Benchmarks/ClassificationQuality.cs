using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>Figures the suites report beside ML.NET's own metrics.</summary>
public static class ClassificationQuality
{
    /// <summary>The unweighted mean over classes of F1 = 2PR / (P + R) (0 for a class never predicted nor present).</summary>
    public static double MacroF1(MulticlassClassificationMetrics metrics)
    {
        var matrix = metrics.ConfusionMatrix;
        return Enumerable.Range(0, matrix.NumberOfClasses).Average(c =>
        {
            double precision = matrix.PerClassPrecision[c], recall = matrix.PerClassRecall[c];
            return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        });
    }
}
