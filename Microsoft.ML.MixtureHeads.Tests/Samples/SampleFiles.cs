using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>The samples under examples/: notebooks, the file-based apps generated from them, and the converter.</summary>
internal static class SampleFiles
{
    private static string Examples => Path.Combine(DotnetProcess.RepositoryRoot(), "examples");

    public static string NotebookFolder => Path.Combine(Examples, "notebooks");

    public static string AppFolder => Path.Combine(Examples, "apps");

    /// <summary>examples/notebooks/notebook-to-app.cs, itself a file-based app.</summary>
    public static string Converter => Path.Combine(NotebookFolder, "notebook-to-app.cs");

    public static string Notebook(string name) => Path.Combine(NotebookFolder, name + ".ipynb");

    public static string App(string name) => Path.Combine(AppFolder, name + ".cs");

    /// <summary>The names of the notebooks, without extension, in order.</summary>
    public static IReadOnlyList<string> NotebookNames() => NamesIn(NotebookFolder, "*.ipynb");

    /// <summary>The names of the file-based apps, without extension, in order.</summary>
    public static IReadOnlyList<string> AppNames() => NamesIn(AppFolder, "*.cs");

    private static string[] NamesIn(string folder, string pattern) =>
        [.. Directory.GetFiles(folder, pattern).Select(path => Path.GetFileNameWithoutExtension(path)).Order(StringComparer.Ordinal)];
}
