using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// The file-based apps in examples/apps, run as a user runs them (<c>dotnet run app.cs -- --quick</c>) in an empty
/// folder: they train, evaluate, save, reload and predict. Each app is byte for byte its notebook's conversion
/// (<see cref="NotebookTests"/>), so this is also the run of the notebook's cells.
/// </summary>
public sealed partial class SampleAppTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("mixtureheads-sample-");

    public void Dispose() => _work.Delete(recursive: true);

    private string[] RunQuick(string name) =>
        FileBasedApp.Run(SampleFiles.App(name), _work.FullName, "--quick").ReplaceLineEndings("\n").Split('\n');

    [Fact]
    public void Image_classification_trains_evaluates_saves_reloads_and_predicts()
    {
        var output = RunQuick("image-classification");

        Assert.Contains(output, line => line.StartsWith("epoch 1/1 step", StringComparison.Ordinal));
        var (accuracy, _) = Accuracy(output);
        double chance = 1.0 / FashionMnistData.ClassNames.Count; // the classes are balanced
        Assert.True(accuracy >= 2 * chance, $"test accuracy {accuracy:P2} is not twice chance");
        AssertSaved(output, "fashion-mnist-moh.zip");

        var predictions = output.Select(line => ImagePrediction().Match(line)).Where(m => m.Success).ToList();
        Assert.Equal(5, predictions.Count);
        Assert.All(predictions, m =>
        {
            Assert.Contains(m.Groups["truth"].Value, FashionMnistData.ClassNames);
            Assert.Contains(m.Groups["predicted"].Value, FashionMnistData.ClassNames);
        });
    }

    [Fact]
    public void Spam_filter_trains_evaluates_saves_reloads_and_predicts()
    {
        var output = RunQuick("spam-filter");

        var counts = MailCounts().Match(string.Join('\n', output));
        Assert.True(counts.Success, "no mail counts printed");
        double mails = Digits(counts.Groups["mails"].Value), spam = Digits(counts.Groups["spam"].Value);
        Assert.Contains(output, line => line.StartsWith("epoch 1/1 step", StringComparison.Ordinal));
        var (accuracy, macroAccuracy) = Accuracy(output);
        // Always answering the larger class scores its share in accuracy and exactly 50% in macro accuracy.
        Assert.True(accuracy > Math.Max(spam, mails - spam) / mails, $"accuracy {accuracy:P2} does not beat the larger class's share");
        Assert.True(macroAccuracy > 0.5, $"macro accuracy {macroAccuracy:P2} does not beat a constant answer");
        AssertSaved(output, "spam-filter-moh.zip");

        Assert.Equal(4, output.Count(line => MailPrediction().IsMatch(line)));
    }

    private void AssertSaved(string[] output, string fileName)
    {
        Assert.Contains(output, line => line.StartsWith("Saved ", StringComparison.Ordinal) && line.EndsWith(fileName, StringComparison.Ordinal));
        Assert.True(new FileInfo(Path.Combine(_work.FullName, fileName)).Length > 0, $"{fileName} not written to the working folder");
    }

    private static (double Accuracy, double Macro) Accuracy(string[] output)
    {
        var match = output.Select(line => AccuracyLine().Match(line)).FirstOrDefault(m => m.Success);
        Assert.True(match is not null, "no accuracy line printed");
        return (Percent(match.Groups["micro"].Value), Percent(match.Groups["macro"].Value));
    }

    private static double Percent(string number) => double.Parse(number.Replace(',', '.'), CultureInfo.InvariantCulture) / 100;

    private static double Digits(string number) => double.Parse(Regex.Replace(number, @"\D", ""), CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^Accuracy: (?<micro>\d+(?:[.,]\d+)?)\s?% \(macro (?<macro>\d+(?:[.,]\d+)?)\s?%")]
    private static partial Regex AccuracyLine();

    [GeneratedRegex(@"^(?<truth>\S.*?)\s+predicted as (?<predicted>\S.*?)\s+\(\d+\s?% sure\)$")]
    private static partial Regex ImagePrediction();

    [GeneratedRegex(@"SpamAssassin: (?<mails>[\d,.\s]+) mails, (?<spam>[\d,.\s]+) of them spam")]
    private static partial Regex MailCounts();

    [GeneratedRegex(@"^(spam|ham)\s+\(\d+\s?% sure\)\s+\S")]
    private static partial Regex MailPrediction();
}
