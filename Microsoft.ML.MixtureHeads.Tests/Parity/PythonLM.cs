using System.Diagnostics;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>
/// Runs the supported PyTorch module of the LM (python/mixtureheads_lm, copied next to the tests) under Debian's
/// /usr/bin/python3 + python3-torch: <c>python3 -m mixtureheads_lm.{module} args</c>, one torch thread per process.
/// </summary>
public static class PythonLM
{
    /// <summary>The folder that holds the mixtureheads_lm package.</summary>
    public static string PackageRoot => Path.Combine(AppContext.BaseDirectory, "python");

    /// <summary>Runs a module of the package and returns its standard output; throws with both streams on a non-zero exit.</summary>
    public static string Run(string module, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        if (!File.Exists(PythonReference.Interpreter))
            throw new InvalidOperationException($"{PythonReference.Interpreter} is missing: run ./build.sh deps (installs python3-torch).");
        var start = new ProcessStartInfo(PythonReference.Interpreter)
        {
            WorkingDirectory = PackageRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-m");
        start.ArgumentList.Add($"mixtureheads_lm.{module}");
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["PYTHONPATH"] = PackageRoot;
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["OPENBLAS_NUM_THREADS"] = "1";
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"python3 -m mixtureheads_lm.{module} ran longer than {timeout ?? TimeSpan.FromMinutes(3)}.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"python3 -m mixtureheads_lm.{module} failed (exit {process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result + stderr.Result;
    }

    /// <summary>Runs a list of interop jobs (see python/mixtureheads_lm/interop.py) in one Python process.</summary>
    public static void RunBatch(IReadOnlyList<Dictionary<string, object>> jobs, string workFolder)
    {
        string path = Path.Combine(workFolder, $"jobs-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(jobs));
        Run("interop", ["batch", path]);
    }

    /// <summary>The PyTorch module's eval-mode logits [B, T, V] for <paramref name="tokens"/> with the checkpoint in <paramref name="folder"/>.</summary>
    public static Tensor Logits(string folder, Tensor tokens)
    {
        string work = Directory.CreateTempSubdirectory("mixtureheads-lm-logits-").FullName;
        try
        {
            string tokensPath = Path.Combine(work, "tokens.safetensors"), outPath = Path.Combine(work, "logits.safetensors");
            using (var stream = File.Create(tokensPath))
                Safetensors.SaveStateDict(stream, new Dictionary<string, Tensor> { ["tokens"] = tokens.contiguous() }, leaveOpen: true);
            Run("interop", ["logits", folder, tokensPath, outPath]);
            return Safetensors.LoadStateDict(outPath)["logits"];
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
