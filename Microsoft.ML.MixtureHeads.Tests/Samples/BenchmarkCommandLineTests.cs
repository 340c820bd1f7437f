using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// The benchmark program (as <c>./build.sh bench</c> runs it, built by the solution build) given bad arguments: a usage
/// error with a message and a non-zero exit, never an exception's stack trace, and no benchmark run.
/// </summary>
public sealed class BenchmarkCommandLineTests
{
    [Theory]
    [InlineData(new[] { "--suite" }, "--suite")]
    [InlineData(new[] { "--threads", "x" }, "'x'")]
    [InlineData(new[] { "--no-such-option" }, "--no-such-option")]
    public void Bad_arguments_give_a_usage_error(string[] arguments, string named)
    {
        var (exitCode, output, error) = DotnetProcess.RunToExit(DotnetProcess.RepositoryRoot(), "dotnet",
            ["run", "-c", DotnetProcess.Configuration, "--no-build", "--project", "benchmarks/Microsoft.ML.MixtureHeads.Benchmarks", "--", .. arguments]);
        string all = output + error;
        Assert.NotEqual(0, exitCode);
        Assert.Contains(named, error);
        Assert.Contains("Usage:", all);
        Assert.DoesNotContain("Exception", all);
        Assert.DoesNotContain("   at ", all);
        Assert.DoesNotContain("# Microsoft.ML.MixtureHeads benchmarks", all);
    }
}
