using System.Text;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Infrastructure;

/// <summary>
/// A throwaway console project in a temp folder, built and run in its own process: how the tests prove that a saved
/// model loads in another process with exactly the references a user's app would have. Outside the repository, so
/// none of our build props apply.
/// </summary>
public sealed class ChildProject : IDisposable
{
    private ChildProject(string directory) => Directory = directory;

    /// <summary>The project folder.</summary>
    public string Directory { get; }

    /// <summary>Writes and builds a console project; referenced projects are used as the tests built them.</summary>
    /// <param name="name">Project name (also the folder name prefix).</param>
    /// <param name="program">The whole Program.cs.</param>
    /// <param name="packages">NuGet packages and versions.</param>
    /// <param name="projectReferences">Paths of .csproj files to reference, relative to the repository root.</param>
    public static ChildProject Create(string name, string program, IEnumerable<(string Id, string Version)> packages, IEnumerable<string>? projectReferences = null)
    {
        string root = DotnetProcess.RepositoryRoot();
        string directory = System.IO.Directory.CreateTempSubdirectory($"mixtureheads-{name}-").FullName;
        var references = new StringBuilder();
        foreach (var (id, version) in packages) references.AppendLine($"    <PackageReference Include=\"{id}\" Version=\"{version}\" />");
        foreach (string reference in projectReferences ?? []) references.AppendLine($"    <ProjectReference Include=\"{Path.Combine(root, reference)}\" />");
        File.WriteAllText(Path.Combine(directory, $"{name}.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <NoWarn>NU1603</NoWarn>
              </PropertyGroup>
              <ItemGroup>
            {references}  </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), program);
        // Referenced projects are already built in this configuration (the tests reference them): reuse, don't rebuild.
        DotnetProcess.Run(directory, "dotnet", "build", "-c", DotnetProcess.Configuration, "-p:BuildProjectReferences=false", "--nologo", "-v:q");
        return new ChildProject(directory);
    }

    /// <summary>
    /// An app as a deployment of a saved model references it: Microsoft.ML.MixtureHeads.Scoring alone (which brings
    /// ML.NET, its image and ONNX stages and ONNX Runtime). Fails when TorchSharp or libtorch reached the output.
    /// </summary>
    /// <param name="name">Project name.</param>
    /// <param name="program">The whole Program.cs.</param>
    /// <param name="packages">Further NuGet packages the app references (a pretrained model's package), or none.</param>
    public static ChildProject DeployedScorer(string name, string program, IEnumerable<(string Id, string Version)>? packages = null)
    {
        var child = Create(name, program, packages ?? [], ["Microsoft.ML.MixtureHeads.Scoring/Microsoft.ML.MixtureHeads.Scoring.csproj"]);
        string output = Path.Combine(child.Directory, "bin", DotnetProcess.Configuration, "net10.0");
        var torch = System.IO.Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Contains("torch", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(torch.Count == 0, $"a scorer must not ship TorchSharp: {string.Join(", ", torch)}");
        return child;
    }

    /// <summary>Publishes the project for linux-x64 (framework-dependent) and returns the size of the publish folder in bytes.</summary>
    public long PublishedSize()
    {
        string folder = Path.Combine(Directory, "publish");
        DotnetProcess.Run(Directory, "dotnet", "publish", "-c", DotnetProcess.Configuration, "-r", "linux-x64", "--self-contained", "false",
            "-p:BuildProjectReferences=false", "-o", folder, "--nologo", "-v:q");
        return System.IO.Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
    }

    /// <summary>Runs the built program and returns its standard output; fails the test on a non-zero exit.</summary>
    public string Run(params string[] arguments) =>
        DotnetProcess.Run(Directory, "dotnet", ["run", "--no-build", "-c", DotnetProcess.Configuration, "--", .. arguments]);

    /// <summary>Deletes the project folder.</summary>
    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
