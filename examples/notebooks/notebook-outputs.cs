// Runs a notebook's code cells as one .NET 10 file-based app and saves each cell's outputs into the notebook: its text
// (stdout) and, for every "Wrote <file>.png" line it prints, the picture as an image/png output, so the notebook reads
// with its results on GitHub. Each code cell's metadata keeps the SHA-256 of the source it ran (the tests check that
// the outputs are current). From the repository root:
//   dotnet run examples/notebooks/notebook-outputs.cs -- examples/notebooks/spam-filter.ipynb [-- app arguments, e.g. --quick]
#:property PublishAot=false

using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: notebook-outputs.cs <notebook.ipynb> [app arguments...]");
    return 2;
}
string notebookPath = Path.GetFullPath(args[0]);
// The notebooks' #:project paths are relative to examples/apps, where the generated apps live.
string appsFolder = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(notebookPath)!, "..", "apps"));
var notebook = JsonNode.Parse(File.ReadAllText(notebookPath))!.AsObject();
var codeCells = notebook["cells"]!.AsArray().Select(c => c!.AsObject()).Where(c => (string?)c["cell_type"] == "code").ToList();

const string Marker = "\u001eNOTEBOOK-CELL-END";
var program = new StringBuilder();
for (int i = 0; i < codeCells.Count; i++)
{
    foreach (string line in Source(codeCells[i]).Split('\n'))
        program.AppendLine(line.StartsWith("#:project ", StringComparison.Ordinal)
            ? "#:project " + Path.GetFullPath(Path.Combine(appsFolder, line["#:project ".Length..].Trim()))
            : line);
    // The last cell may declare types, after which no statement may follow; its output is what remains.
    if (i < codeCells.Count - 1) program.AppendLine($"System.Console.WriteLine(\"{Marker}\");");
}

// Inside the repository (an ignored obj/ folder), so that its Directory.Packages.props gives the package versions.
string work = Path.Combine(Path.GetDirectoryName(notebookPath)!, "obj", "notebook-outputs", Path.GetFileNameWithoutExtension(notebookPath));
if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
Directory.CreateDirectory(work);
string app = Path.Combine(work, Path.GetFileNameWithoutExtension(notebookPath) + ".cs");
File.WriteAllText(app, program.ToString());
var start = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true };
foreach (string argument in new[] { "run", app, "--" }.Concat(args.Skip(1))) start.ArgumentList.Add(argument);
using var process = Process.Start(start)!;
// The app ran in its own folder: its files read as if it had run in the current one.
string output = process.StandardOutput.ReadToEnd().ReplaceLineEndings("\n").Replace(work + Path.DirectorySeparatorChar, "./");
process.WaitForExit();
if (process.ExitCode != 0)
{
    Console.Error.WriteLine($"The notebook's app exited {process.ExitCode}; the notebook is unchanged. Its output:\n{output}");
    return 1;
}

string[] cellOutputs = output.Split(Marker + "\n");
if (cellOutputs.Length != codeCells.Count)
    throw new InvalidOperationException($"Expected output of {codeCells.Count} cells, found {cellOutputs.Length}.");
var wrotePicture = new Regex(@"^Wrote (?<path>.+\.png)$", RegexOptions.Multiline);
for (int i = 0; i < codeCells.Count; i++)
{
    var outputs = new JsonArray();
    if (cellOutputs[i].Length > 0)
        outputs.Add(new JsonObject { ["name"] = "stdout", ["output_type"] = "stream", ["text"] = Lines(cellOutputs[i]) });
    foreach (Match picture in wrotePicture.Matches(cellOutputs[i]))
    {
        string path = Path.GetFullPath(picture.Groups["path"].Value, work);
        outputs.Add(new JsonObject
        {
            ["data"] = new JsonObject { ["image/png"] = Convert.ToBase64String(File.ReadAllBytes(path)) },
            ["metadata"] = new JsonObject(),
            ["output_type"] = "display_data",
        });
    }
    codeCells[i]["outputs"] = outputs;
    codeCells[i]["execution_count"] = i + 1;
    codeCells[i]["metadata"]!["mixtureheads"] = new JsonObject { ["source_sha256"] = Sha256(Source(codeCells[i])) };
}
// Jupyter's layout (one-space indent, characters as they are), so that a notebook's diff shows what changed.
var layout = new JsonSerializerOptions { WriteIndented = true, IndentSize = 1, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
File.WriteAllText(notebookPath, notebook.ToJsonString(layout) + "\n");
Directory.Delete(work, recursive: true);
Console.WriteLine($"Wrote the outputs of {codeCells.Count} code cells into {notebookPath}");
return 0;

// nbformat stores a cell's source as one string or as a list of lines.
static string Source(JsonObject cell) => (cell["source"] is JsonArray lines
    ? string.Concat(lines.Select(l => (string?)l))
    : (string?)cell["source"] ?? "").Replace("\r\n", "\n");

static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

// nbformat's multi-line text: a list of lines, each but the last ending in "\n".
static JsonArray Lines(string text)
{
    var lines = new JsonArray();
    foreach (Match line in Regex.Matches(text, @"[^\n]*\n|[^\n]+$")) lines.Add(line.Value);
    return lines;
}
