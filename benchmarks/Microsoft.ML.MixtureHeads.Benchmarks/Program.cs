using System.Reflection;
using Microsoft.ML.MixtureHeads.Benchmarks;
using TorchSharp;

// ./build.sh bench [--suite NAME] [--quick] [--threads N] [--epochs N]
// Every suite prints our figures next to its baseline's, measured in this same run on this machine.
string? only = null;
bool quick = false;
int threads = Environment.ProcessorCount;
int? epochs = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--suite": only = args[++i]; break;
        case "--quick": quick = true; break;
        case "--threads": threads = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        case "--epochs": epochs = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown argument '{args[i]}'"); return 2;
    }
}

string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "MLNet.MoH.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");

torch.set_num_threads(threads);
var settings = new BenchSettings(threads, quick, root, epochs);
var suites = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmarkSuite).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmarkSuite)Activator.CreateInstance(t)!)
    .Where(s => only == null || s.Name.Equals(only, StringComparison.OrdinalIgnoreCase))
    .OrderBy(s => s.Name)
    .ToList();
if (suites.Count == 0) { Console.Error.WriteLine($"no suite named '{only}'"); return 2; }

Console.WriteLine($"# Microsoft.ML.MixtureHeads benchmarks ({DateTime.Now:yyyy-MM-dd HH:mm}, {threads} threads, {Environment.ProcessorCount} cores{(quick ? ", quick" : "")})");
Console.WriteLine();
string resultsDirectory = Path.Combine(root, "benchmarks", "results");
Directory.CreateDirectory(resultsDirectory);
foreach (var suite in suites)
{
    Console.WriteLine($"## {suite.Name}");
    var tables = suite.Run(settings);
    string markdown = string.Join(Environment.NewLine, tables.Select(t => t.ToMarkdown()));
    Console.WriteLine(markdown);
    File.WriteAllText(Path.Combine(resultsDirectory, $"{suite.Name}.md"), markdown);
}
return 0;
