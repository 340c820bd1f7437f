using System.Text.Json;
using Microsoft.ML.MixtureHeads.Tests.Plots;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>
/// The notebooks in examples/notebooks are the source of the samples: each file-based app in examples/apps is exactly
/// what notebook-to-app.cs makes of its notebook, so the two formats cannot drift and running the app runs the
/// notebook's cells (<see cref="SampleAppTests"/>).
/// </summary>
public sealed class NotebookTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("mixtureheads-notebooks-");

    public void Dispose() => _work.Delete(recursive: true);

    public static TheoryData<string> Notebooks => new(SampleFiles.NotebookNames());

    private string Convert(string notebook)
    {
        string app = Path.Combine(_work.FullName, Path.GetFileNameWithoutExtension(notebook) + ".cs");
        FileBasedApp.Run(SampleFiles.Converter, _work.FullName, notebook, app);
        return File.ReadAllText(app);
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void The_app_is_exactly_the_converted_notebook(string name)
    {
        string converted = Convert(SampleFiles.Notebook(name));
        string app = File.ReadAllText(SampleFiles.App(name));
        Assert.True(converted == app,
            $"examples/apps/{name}.cs differs from its notebook. Edit examples/notebooks/{name}.ipynb, then from the repository root run\n" +
            $"  dotnet run examples/notebooks/notebook-to-app.cs -- examples/notebooks/{name}.ipynb examples/apps/{name}.cs");
    }

    [Fact]
    public void Every_app_comes_from_a_notebook()
    {
        Assert.NotEmpty(SampleFiles.NotebookNames());
        Assert.Equal(SampleFiles.NotebookNames(), SampleFiles.AppNames());
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_is_a_CSharp_notebook_for_dotnet_interactive(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(SampleFiles.Notebook(name)));
        var root = document.RootElement;
        Assert.Equal(4, root.GetProperty("nbformat").GetInt32());
        var metadata = root.GetProperty("metadata");
        Assert.Equal(".net-csharp", metadata.GetProperty("kernelspec").GetProperty("name").GetString());
        Assert.Equal("csharp", metadata.GetProperty("polyglot_notebook").GetProperty("kernelInfo").GetProperty("defaultKernelName").GetString());

        var cells = root.GetProperty("cells").EnumerateArray().ToList();
        var code = cells.Where(c => c.GetProperty("cell_type").GetString() == "code").ToList();
        Assert.NotEmpty(code);
        Assert.Contains(cells, c => c.GetProperty("cell_type").GetString() == "markdown");
        Assert.All(code, cell =>
        {
            var cellMetadata = cell.GetProperty("metadata");
            Assert.Equal("csharp", cellMetadata.GetProperty("dotnet_interactive").GetProperty("language").GetString());
            Assert.Equal("csharp", cellMetadata.GetProperty("polyglot_notebook").GetProperty("kernelName").GetString());
        });
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Notebook_is_saved_with_the_text_and_pictures_of_its_current_cells(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(SampleFiles.Notebook(name)));
        var code = document.RootElement.GetProperty("cells").EnumerateArray().Where(c => c.GetProperty("cell_type").GetString() == "code").ToList();
        string regenerate = $"Regenerate the outputs from the repository root:\n  dotnet run examples/notebooks/notebook-outputs.cs -- examples/notebooks/{name}.ipynb --quick";
        foreach (var cell in code)
        {
            string source = NotebookCell.Source(cell);
            Assert.True(cell.GetProperty("metadata").TryGetProperty("mixtureheads", out var ran) &&
                ran.GetProperty("source_sha256").GetString() == NotebookCell.Sha256(source),
                $"The outputs of this cell of {name}.ipynb are not from its current source:\n{source}\n{regenerate}");
        }
        var outputs = code.SelectMany(c => c.GetProperty("outputs").EnumerateArray()).ToList();
        Assert.True(outputs.Count(o => o.GetProperty("output_type").GetString() == "stream") >= 3, regenerate);
        var pictures = outputs.Where(o => o.GetProperty("output_type").GetString() == "display_data").ToList();
        Assert.True(pictures.Count >= 2, $"{name}.ipynb shows {pictures.Count} pictures. {regenerate}");
        foreach (var picture in pictures)
        {
            string png = Path.Combine(_work.FullName, "picture.png");
            File.WriteAllBytes(png, System.Convert.FromBase64String(picture.GetProperty("data").GetProperty("image/png").GetString()!));
            Assert.True(PngImage.Read(png).LuminanceVariance > 100, $"a picture in {name}.ipynb is blank");
        }
    }

    [Fact]
    public void Converter_keeps_code_cells_and_turns_markdown_into_comments()
    {
        // nbformat allows a cell's source as one string or as a list of lines; editors on Windows write CRLF.
        string notebook = Path.Combine(_work.FullName, "sample.ipynb");
        File.WriteAllText(notebook, """
            {
             "cells": [
              { "cell_type": "markdown", "metadata": {}, "source": "# Title\r\nSome *text*.\r\n\r\n## Step 1\r\nMore.\r\n" },
              { "cell_type": "code", "metadata": {}, "outputs": [], "source": ["#:property PublishAot=false\n", "\n", "int x = 1;\n"] },
              { "cell_type": "code", "metadata": {}, "outputs": [], "source": [] },
              { "cell_type": "raw", "metadata": {}, "source": ["not C#"] },
              { "cell_type": "code", "metadata": {}, "outputs": [], "source": ["Console.WriteLine(x);  "] }
             ],
             "metadata": {}, "nbformat": 4, "nbformat_minor": 2
            }
            """);
        Assert.Equal("""
            // Generated by examples/notebooks/notebook-to-app.cs from sample.ipynb: edit the notebook instead.

            // Title
            // Some *text*.
            //
            // Step 1
            // More.

            #:property PublishAot=false

            int x = 1;

            Console.WriteLine(x);

            """.ReplaceLineEndings("\n"), Convert(notebook));
    }
}
