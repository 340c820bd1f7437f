using System.Diagnostics;
using System.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Infrastructure;

/// <summary>
/// A throwaway console project in a temp folder, built and run in its own process: how the tests prove that a saved
/// model loads in another process with exactly the references a user's app would have. Outside the repository, so
/// none of our build props apply.
/// </summary>
public sealed class ChildProject : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private ChildProject(string directory) => Directory = directory;

    /// <summary>The project folder.</summary>
    public string Directory { get; }

    /// <summary>Writes and builds a console project.</summary>
    /// <param name="name">Project name (also the folder name prefix).</param>
    /// <param name="program">The whole Program.cs.</param>
    /// <param name="packages">NuGet packages and versions.</param>
    /// <param name="projectReferences">Paths of .csproj files to reference, relative to the repository root.</param>
    public static ChildProject Create(string name, string program, IEnumerable<(string Id, string Version)> packages, IEnumerable<string>? projectReferences = null)
    {
        string root = RepositoryRoot();
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
        var project = new ChildProject(directory);
        project.Dotnet("build", "-c", Configuration, "--nologo", "-v", "q");
        return project;
    }

    /// <summary>Runs the built program and returns its standard output; fails the test on a non-zero exit.</summary>
    public string Run(params string[] arguments) => Dotnet(["run", "--no-build", "-c", Configuration, "--", .. arguments]);

    private string Dotnet(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} in {Directory} ran past 10 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}\n{error.Result}");
        return output;
    }

    /// <summary>The folder holding MLNet.MoH.sln.</summary>
    public static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory != null && !File.Exists(Path.Combine(directory, "MLNet.MoH.sln"))) directory = Path.GetDirectoryName(directory);
        return directory ?? throw new InvalidOperationException("MLNet.MoH.sln not found above the test output");
    }

    /// <summary>Deletes the project folder.</summary>
    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); }
        catch (IOException) { }
    }
}
