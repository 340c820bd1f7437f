using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Platform;
using Microsoft.ML.MixtureHeads.Tests.Plots;

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
        string pictures = TestArtefacts.Folder("demo");
        string output = DotnetProcess.Run(root, "dotnet", "run", "-c", DotnetProcess.Configuration, "--project", "examples/FashionMnistDemo",
            "--", "--epochs", "1", "--train-images", "6000", "--output", pictures);

        var accuracy = TestAccuracy().Match(output);
        Assert.True(accuracy.Success, $"no test accuracy in:\n{output}");
        double chance = 1.0 / FashionMnistData.ClassNames.Count;
        Assert.True(double.Parse(accuracy.Groups["percent"].Value, CultureInfo.InvariantCulture) / 100 >= 2 * chance, accuracy.Value);
        Assert.Contains("Saved ", output);
        Assert.Contains("Read 6,000 training rows", output);   // the trainer's progress, from the MLContext log
        Assert.Equal(8, PredictionLine().Matches(output).Count);
        Assert.True(File.Exists(Path.Combine(pictures, "model.zip")));
        // The plots helper's default sizes.
        (string Name, int Width, int Height)[] expected =
            [("training-curves.png", 1500, 450), ("confusion-matrix.png", 900, 800), ("head-usage.png", 900, 450),
             ("head-usage-per-class.png", 1600, 1000), ("patch-heads.png", 1600, 900)];
        foreach (var (name, width, height) in expected)
        {
            Assert.Contains($"Wrote {Path.Combine(pictures, name)}", output);
            PngImage.AssertDrawn(Path.Combine(pictures, name), width, height);
        }
    }

    [GeneratedRegex(@"Test accuracy on the 10,000 test images: (?<percent>[0-9.]+) ?%")]
    private static partial Regex TestAccuracy();

    [GeneratedRegex(@"^  true .+ predicted .+ p=", RegexOptions.Multiline)]
    private static partial Regex PredictionLine();
}
