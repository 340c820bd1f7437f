using System.Diagnostics;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>Runs the dotnet CLI (or another tool) for tests that build and run throwaway projects.</summary>
internal static class DotnetProcess
{
#if DEBUG
    /// <summary>The configuration these tests were built in; child builds use the same one.</summary>
    public const string Configuration = "Debug";
#else
    /// <summary>The configuration these tests were built in; child builds use the same one.</summary>
    public const string Configuration = "Release";
#endif

    /// <summary>
    /// Runs <paramref name="file"/> in <paramref name="directory"/>, asserts exit code 0 within 10 minutes, returns stdout.
    /// A .NET child that crashes in native code writes a crash report, whose stacks the failure message then shows.
    /// </summary>
    public static string Run(string directory, string file, params string[] arguments)
    {
        string crashes = Directory.CreateTempSubdirectory("mixtureheads-crash-").FullName;
        try
        {
            var start = StartInfo(directory, file, arguments);
            start.Environment["DOTNET_DbgEnableMiniDump"] = "1";
            start.Environment["DOTNET_EnableCrashReport"] = "1";
            start.Environment["DOTNET_DbgMiniDumpType"] = "1";
            start.Environment["DOTNET_DbgMiniDumpName"] = Path.Combine(crashes, "dump.%p");
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), $"{file} {string.Join(' ', arguments)} timed out");
            Assert.True(process.ExitCode == 0,
                $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}\n{error.Result}{CrashReport.Summarize(crashes)}");
            return output;
        }
        finally
        {
            Directory.Delete(crashes, recursive: true);
        }
    }

    /// <summary>
    /// Runs <paramref name="file"/> in <paramref name="directory"/> and returns its exit code, stdout and stderr whatever
    /// the exit code (for tests of a program's failures); asserts only that it ends within 10 minutes.
    /// </summary>
    public static (int ExitCode, string Output, string Error) RunToExit(string directory, string file, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(directory, file, arguments))!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), $"{file} {string.Join(' ', arguments)} timed out");
        return (process.ExitCode, output, error.Result);
    }

    private static ProcessStartInfo StartInfo(string directory, string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>The folder holding MLNet.MoH.sln, found above the test output.</summary>
    public static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory != null && !File.Exists(Path.Combine(directory, "MLNet.MoH.sln"))) directory = Path.GetDirectoryName(directory);
        return directory ?? throw new InvalidOperationException("MLNet.MoH.sln not found above the test output");
    }
}
