using System.Diagnostics;
using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>Runs a baseline script under Debian's /usr/bin/python3 + python3-torch; the script prints one JSON object.</summary>
public static class PythonBaseline
{
    public static JsonElement Run(BenchSettings settings, string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.Combine(settings.RepositoryRoot, "benchmarks", "reference"),
        };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(settings.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (settings.Quick) start.ArgumentList.Add("--quick");
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{script} failed (exit {process.ExitCode}): {stderr.Result}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
