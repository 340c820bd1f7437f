using System.Diagnostics;
using System.Text.Json;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>One reference case: an op registered in reference/*.py, its settings, and its input tensors.</summary>
public sealed record ReferenceCase(string Op, IReadOnlyDictionary<string, object> Settings, IReadOnlyDictionary<string, Tensor> Inputs)
{
    public ReferenceCase(string op, IReadOnlyDictionary<string, Tensor> inputs) : this(op, new Dictionary<string, object>(), inputs) { }
}

/// <summary>
/// Runs the independent PyTorch reference (reference/run_cases.py) under Debian's /usr/bin/python3 + python3-torch.
/// Cases go in as JSON settings plus a tensor bundle; outputs come back as one dictionary per case.
/// </summary>
public static class PythonReference
{
    /// <summary>The interpreter with torch: Debian's, not whatever python3 is first on PATH.</summary>
    public const string Interpreter = "/usr/bin/python3";

    private static string ScriptDirectory => Path.Combine(AppContext.BaseDirectory, "reference");

    public static IReadOnlyList<Dictionary<string, Tensor>> Run(IReadOnlyList<ReferenceCase> cases)
    {
        string work = Directory.CreateTempSubdirectory("mixtureheads-parity-").FullName;
        try
        {
            string casesPath = Path.Combine(work, "cases.json");
            string inputsPath = Path.Combine(work, "inputs.mhtb");
            string outputsPath = Path.Combine(work, "outputs.mhtb");
            File.WriteAllText(casesPath, JsonSerializer.Serialize(cases.Select(c =>
                new Dictionary<string, object>(c.Settings) { ["op"] = c.Op })));
            var inputs = new Dictionary<string, Tensor>();
            for (int i = 0; i < cases.Count; i++)
                foreach (var (name, tensor) in cases[i].Inputs) inputs[$"{i}/{name}"] = tensor;
            TensorBundle.Write(inputsPath, inputs);

            RunScript(casesPath, inputsPath, outputsPath);

            var outputs = TensorBundle.Read(outputsPath);
            return Enumerable.Range(0, cases.Count).Select(i =>
                outputs.Where(kv => kv.Key.StartsWith($"{i}/", StringComparison.Ordinal))
                       .ToDictionary(kv => kv.Key[($"{i}/").Length..], kv => kv.Value)).ToList();
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    public static Dictionary<string, Tensor> Run(ReferenceCase single) => Run([single])[0];

    private static void RunScript(string casesPath, string inputsPath, string outputsPath)
    {
        if (!File.Exists(Interpreter))
            throw new InvalidOperationException($"{Interpreter} is missing: run ./build.sh deps (installs python3-torch).");
        var start = new ProcessStartInfo(Interpreter)
        {
            WorkingDirectory = ScriptDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "run_cases.py", casesPath, inputsPath, outputsPath }) start.ArgumentList.Add(argument);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("The PyTorch reference ran longer than 5 minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The PyTorch reference failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr}");
    }
}
