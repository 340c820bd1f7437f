using Microsoft.ML.MixtureHeads.Scoring;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Infrastructure;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>
/// The deployment promise for text: a zip saved here (copy, tokenization stage, ONNX input graph) is loaded by a
/// separate console app with plain <c>mlContext.Model.Load</c>. The app references the scoring package only (no
/// TorchSharp) and calls nothing of ours and registers nothing; ML.NET finds the tokenization contract by itself.
/// </summary>
public sealed class ChildProcessLoadTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("mixtureheads-textchild-");

    public void Dispose() => _work.Delete(recursive: true);

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private const string ChildProgram = """
        using System.Text.Json;
        using Microsoft.ML;
        using Microsoft.ML.Data;

        var ml = new MLContext(seed: 0);
        var model = ml.Model.Load(args[0], out _);
        var texts = JsonSerializer.Deserialize<string[]>(File.ReadAllText(args[1]))!;
        var output = model.Transform(ml.Data.LoadFromEnumerable(texts.Select(t => new Row { Text = t })));
        foreach (string column in args[2..])
            foreach (var ids in output.GetColumn<VBuffer<long>>(column))
                Console.WriteLine(column + ":" + string.Join(",", ids.DenseValues()));
        Console.WriteLine("ours-loaded:" + AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.ML.MixtureHeads.Scoring"));

        sealed class Row { public string Text { get; set; } = ""; }
        """;

    [Fact]
    public void A_child_process_loads_the_zip_with_plain_Model_Load_and_gets_the_same_ids()
    {
        var ml = new MLContext(seed: 1) { TempFilePath = _work.FullName };
        var mails = SpamMails.Messages;
        string[] texts = [.. mails.Where((_, i) => i % 300 == 7).Select(m => m.Text), "", "Zqxjv Wkhpt floopdeeblarg",
            string.Concat(Enumerable.Repeat(mails[3].Text, 50))];
        var data = ml.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));

        var vocabulary = CompactVocabulary.Build(mails.Take(400).Select(m => TextTokenIds.Encode(m.Text)), minCount: 2);
        var g = new OnnxGraphBuilder();
        using var lookup = new VocabularyLookup(vocabulary);
        var (compact, _) = TokenInputOnnx.Emit(g, TextTokenization.TokenIdsColumn, lookup, maxLength: 256);
        g.Output(compact, "CompactIds", OnnxElementType.Int64, "batch", "length");
        string onnxFile = Path.Combine(_work.FullName, "input.onnx");
        File.WriteAllBytes(onnxFile, g.ToBytes());

        var (stages, idsColumn, _) = TextInput.Stages(ml, data.Schema["Text"]);
        var model = stages.Append(ml.Transforms.ApplyOnnxModel(["CompactIds"], [idsColumn], onnxFile)).Fit(data);
        var output = model.Transform(data);
        string[] columns = [idsColumn, "CompactIds"];
        var expected = columns.SelectMany(c => output.GetColumn<VBuffer<long>>(c).Select(v => c + ":" + string.Join(",", v.DenseValues()))).ToList();
        string zip = Path.Combine(_work.FullName, "model.zip");
        ml.Model.Save(model, data.Schema, zip);
        ((IDisposable)model).Dispose();
        string textsFile = Path.Combine(_work.FullName, "texts.json");
        File.WriteAllText(textsFile, JsonSerializer.Serialize(texts));

        using var app = ChildProject.DeployedScorer("text-ids", ChildProgram);
        string printed = app.Run(zip, textsFile, columns[0], columns[1]);

        var lines = printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal([.. expected, "ours-loaded:True"], lines);
        Assert.Equal("__MoH_TokenIds:1", expected[texts.Length - 3]);   // the empty text
    }
}
