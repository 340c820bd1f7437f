using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// The README's demo project (examples/FashionMnistDemo), run as <c>./build.sh demo</c> runs it but with one epoch on
/// 6,000 training images: it validates on the raw test set, evaluates on all 10,000, saves, reloads and predicts.
/// </summary>
public sealed partial class DemoProjectTests
{
    [Fact]
    public void Fashion_mnist_demo_runs_end_to_end_on_a_short_budget()
    {
        string root = DotnetProcess.RepositoryRoot();
        string output = DotnetProcess.Run(root, "dotnet", "run", "-c", DotnetProcess.Configuration, "--project", "examples/FashionMnistDemo",
            "--", "--epochs", "1", "--train-images", "6000");

        var accuracy = TestAccuracy().Match(output);
        Assert.True(accuracy.Success, $"no test accuracy in:\n{output}");
        double chance = 1.0 / FashionMnistData.ClassNames.Count;
        Assert.True(double.Parse(accuracy.Groups["percent"].Value, CultureInfo.InvariantCulture) / 100 >= 2 * chance, accuracy.Value);
        Assert.Contains("Saved ", output);
        Assert.Contains("Read 6,000 training rows", output);   // the trainer's progress, from the MLContext log
        Assert.Equal(8, PredictionLine().Matches(output).Count);
    }

    [GeneratedRegex(@"Test accuracy on the 10,000 test images: (?<percent>[0-9.]+) ?%")]
    private static partial Regex TestAccuracy();

    [GeneratedRegex(@"^  true .+ predicted .+ p=", RegexOptions.Multiline)]
    private static partial Regex PredictionLine();
}
