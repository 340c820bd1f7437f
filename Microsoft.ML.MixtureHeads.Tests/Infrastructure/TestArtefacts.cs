namespace Microsoft.ML.MixtureHeads.Tests.Infrastructure;

/// <summary>Files tests leave for a person to look at (plots, browser screenshots): <c>bin/.../artefacts/NAME</c>, emptied when a test class starts.</summary>
internal static class TestArtefacts
{
    public static string Folder(string name)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "artefacts", name);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        return Directory.CreateDirectory(folder).FullName;
    }
}
