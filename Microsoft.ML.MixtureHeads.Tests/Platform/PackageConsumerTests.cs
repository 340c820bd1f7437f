namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>
/// A NuGet consumer's view: pack our library and the scoring package it depends on, reference the library from a
/// throwaway console app (plus TorchSharp-cpu), build and run it, once for each target framework. No manual step:
/// the package's buildTransitive targets make TorchSharp load on this machine.
/// </summary>
public sealed class PackageConsumerTests
{
    private static readonly string[] PackedProjects = ["Microsoft.ML.MixtureHeads.Scoring", "Microsoft.ML.MixtureHeads"];

    [Fact]
    public void Apps_for_net8_and_net10_referencing_the_packed_package_run_a_torch_op()
    {
        string root = DotnetProcess.RepositoryRoot();
        string work = Directory.CreateTempSubdirectory("mixtureheads-consumer-").FullName;
        string version = $"0.0.1-consumer{DateTime.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        try
        {
            string feed = Path.Combine(work, "feed");
            foreach (string project in PackedProjects)
            {
                DotnetProcess.Run(root, "dotnet", "pack", Path.Combine(root, project, $"{project}.csproj"),
                    "-c", DotnetProcess.Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}", "--nologo");
                AssertPackageMetadata(feed, project, version);
            }

            // No .NET 8 runtime is installed here: the net8.0 app runs on the .NET 10 runtime by rolling forward.
            foreach (string framework in new[] { "net8.0", "net10.0" })
            {
                string app = Path.Combine(work, framework);
                Directory.CreateDirectory(app);
                File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                    <?xml version="1.0" encoding="utf-8"?>
                    <configuration><packageSources><add key="packed" value="{feed}" /></packageSources></configuration>
                    """);
                File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                    <Project Sdk="Microsoft.NET.Sdk">
                      <PropertyGroup>
                        <OutputType>Exe</OutputType><TargetFramework>{framework}</TargetFramework><Nullable>enable</Nullable>
                        <RollForward>Major</RollForward><NoWarn>NU1603</NoWarn>
                      </PropertyGroup>
                      <ItemGroup>
                        <PackageReference Include="Microsoft.ML.MixtureHeads" Version="{version}" />
                        <PackageReference Include="TorchSharp-cpu" Version="{Infrastructure.PackageVersions.Of("TorchSharp-cpu")}" />
                      </ItemGroup>
                    </Project>
                    """);
                File.WriteAllText(Path.Combine(app, "Program.cs"), """
                    using static TorchSharp.torch;
                    var norm = new Microsoft.ML.MixtureHeads.Layers.RMSNorm(4);
                    using var y = norm.forward(ones(2, 4) * 3);
                    System.Console.WriteLine($"consumer-ok {System.AppContext.TargetFrameworkName} {y.sum().item<float>():F3}");
                    """);
                string output = DotnetProcess.Run(app, "dotnet", "run", "--nologo");
                string expected = framework == "net8.0" ? ".NETCoreApp,Version=v8.0" : ".NETCoreApp,Version=v10.0";
                Assert.Contains($"consumer-ok {expected} 8.000", output);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            foreach (string project in PackedProjects)
            {
                string cached = Path.Combine(packages, project.ToLowerInvariant(), version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
        }
    }

    /// <summary>What a gallery shows and a debugger needs: readme, icon, description, tags, a symbols package.</summary>
    private static void AssertPackageMetadata(string feed, string project, string version)
    {
        string package = Path.Combine(feed, $"{project}.{version}.nupkg");
        Assert.True(File.Exists(package), $"{project} was not packed");
        Assert.True(File.Exists(Path.Combine(feed, $"{project}.{version}.snupkg")), $"{project} has no symbols package");
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        Assert.NotNull(zip.GetEntry("README.md"));
        Assert.NotNull(zip.GetEntry("icon.png"));
        using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var nuspec = System.Xml.Linq.XDocument.Load(nuspecStream);
        string Field(string name) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Assert.Equal("README.md", Field("readme"));
        Assert.Equal("icon.png", Field("icon"));
        Assert.Contains("ML.NET", Field("tags"));
        Assert.False(string.IsNullOrWhiteSpace(Field("description")));
        Assert.Equal("MIT", Field("license"));
    }
}
