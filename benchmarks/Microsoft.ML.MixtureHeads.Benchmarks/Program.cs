using System.CommandLine;
using System.Reflection;
using Microsoft.ML.MixtureHeads.Benchmarks;
using Microsoft.ML.MixtureHeads.Training;
using TorchSharp;

// ./build.sh bench [--suite NAME] [--quick] [--threads N] [--epochs N]
// Every suite prints our figures next to its baseline's, measured in this same run on this machine.
if (args is [ContentionWorker.Command, ..]) return ContentionWorker.Run(args[1..]);   // a child of the contention suite
var suiteOption = new Option<string?>("--suite") { Description = "Run only the suite of this name, or the suites named NAME-* (default: every suite)" };
var quickOption = new Option<bool>("--quick") { Description = "Shorter runs for a quick look" };
var threadsOption = new Option<int?>("--threads") { Description = "Torch threads (default: libtorch's own, one per core)" };
var epochsOption = new Option<int?>("--epochs") { Description = "Epochs for the suites that train (default: each suite's own)" };
var command = new RootCommand("Microsoft.ML.MixtureHeads benchmarks: our figures next to their baselines'")
{
    suiteOption, quickOption, threadsOption, epochsOption,
};
var parsed = command.Parse(args);
if (parsed.Action is not null) return parsed.Invoke(); // --help, or a usage error: printed, exit code 1
string? only = parsed.GetValue(suiteOption);
bool quick = parsed.GetValue(quickOption);
int? epochs = parsed.GetValue(epochsOption);

string root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "MLNet.MoH.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");

// Only when asked, and only to another count: the same rule the trainers follow (LibTorchThreads).
using var threadScope = LibTorchThreads.Use(parsed.GetValue(threadsOption));
int threads = torch.get_num_threads();
var settings = new BenchSettings(threads, quick, root, epochs);
var suites = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBenchmarkSuite).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchmarkSuite)Activator.CreateInstance(t)!)
    .Where(s => only == null || s.Name.Equals(only, StringComparison.OrdinalIgnoreCase) || s.Name.StartsWith(only + "-", StringComparison.OrdinalIgnoreCase))   // "transfer" runs transfer-image and transfer-text
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
