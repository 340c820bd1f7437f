using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Platform;
using SkiaSharp;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// examples/DiTFashion in quick mode: it trains a MoH-DiT on 500 Fashion-MNIST images, writes the class grid PNG from
/// the EMA weights, exports the denoiser and samples the same grid with ONNX Runtime.
/// </summary>
public sealed partial class DiTFashionExampleTests
{
    [Fact]
    public void DiT_example_trains_writes_the_class_grid_and_samples_the_same_images_with_onnx_runtime()
    {
        string root = DotnetProcess.RepositoryRoot();
        string folder = TestArtefacts.Folder("dit-fashion");
        string output = DotnetProcess.Run(root, "dotnet", "run", "-c", DotnetProcess.Configuration, "--project", "examples/DiTFashion", "--", "--quick", "--output", folder);

        var losses = Loss().Match(output);
        Assert.True(losses.Success, $"no validation losses in:\n{output}");
        double first = Number(losses.Groups["first"].Value), last = Number(losses.Groups["last"].Value);
        Assert.True(last < first && last < 1, $"validation loss {first} -> {last} (a fresh DiT scores about 1)");

        using var grid = SKBitmap.Decode(Path.Combine(folder, "dit-grid.png"));
        Assert.Equal((4 * 28 + 3 * 2, 10 * 28 + 9 * 2), (grid.Width, grid.Height));   // 4 per class, a row per class, 2-pixel gaps
        var difference = Regex.Match(output, @"max pixel difference (?<value>[0-9.,E+-]+)");
        Assert.True(difference.Success && Number(difference.Groups["value"].Value) < 1e-3, output);
    }

    private static double Number(string text) => double.Parse(text.Replace(',', '.'), NumberStyles.Float, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"validation loss \(\w+ MSE\) after epoch 1 (?<first>[0-9.]+), after epoch \d+ (?<last>[0-9.]+)")]
    private static partial Regex Loss();
}
