using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// examples/BrownLM in quick mode: it pretrains a tiny MoH LM on Brown, samples, saves, and streams a completion through
/// the ONNX Runtime IChatClient that equals the TorchSharp sample with the same options and seed.
/// </summary>
public sealed partial class BrownLMExampleTests
{
    [Fact]
    public void Brown_LM_example_trains_samples_saves_and_streams_the_same_completion_through_IChatClient()
    {
        string root = DotnetProcess.RepositoryRoot();
        string folder = TestArtefacts.Folder("brown-lm");
        string output = DotnetProcess.Run(root, "dotnet", "run", "-c", DotnetProcess.Configuration, "--project", "examples/BrownLM", "--", "--quick", "--output", folder);

        var perplexities = Perplexity().Matches(output).Select(m => double.Parse(m.Groups["value"].Value.Replace(',', '.'), CultureInfo.InvariantCulture)).ToList();
        Assert.True(perplexities.Count == 2, $"no perplexities in:\n{output}");
        Assert.True(perplexities[1] < perplexities[0] / 2, $"training did not lower the perplexity: {perplexities[0]} -> {perplexities[1]}");
        Assert.True(File.Exists(Path.Combine(folder, "brown-lm.zip")));

        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        string sample = lines.First(l => l.StartsWith("Sample: The jury said", StringComparison.Ordinal))["Sample: ".Length..];
        string chat = lines.First(l => l.StartsWith("Chat (streamed): ", StringComparison.Ordinal))["Chat (streamed): ".Length..];
        Assert.Equal(sample, chat);
        Assert.True(sample.Length > "The jury said".Length + 10, $"a short sample: '{sample}'");
        var streamed = Regex.Match(output, @"Streamed (?<n>\d+) pieces");
        Assert.True(streamed.Success && int.Parse(streamed.Groups["n"].Value, CultureInfo.InvariantCulture) > 1, output);
    }

    [GeneratedRegex(@"validation perplexity (before|after) training (?<value>[0-9.,]+)")]
    private static partial Regex Perplexity();
}
