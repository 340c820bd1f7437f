namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>
/// A NuGet consumer's view: pack our library, reference it from a throwaway console app (plus TorchSharp-cpu), build
/// and run it. No manual step: the package's buildTransitive targets make TorchSharp load on this machine.
/// </summary>
public sealed class PackageConsumerTests
{
    [Fact]
    public void A_console_app_referencing_the_packed_package_runs_a_torch_op()
    {
        string root = DotnetProcess.RepositoryRoot();
        string work = Directory.CreateTempSubdirectory("mixtureheads-consumer-").FullName;
        string version = $"0.0.1-consumer{DateTime.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        try
        {
            string feed = Path.Combine(work, "feed");
            DotnetProcess.Run(root, "dotnet", "pack", Path.Combine(root, "Microsoft.ML.MixtureHeads", "Microsoft.ML.MixtureHeads.csproj"),
                "-c", DotnetProcess.Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}", "--nologo");
            Assert.True(File.Exists(Path.Combine(feed, $"Microsoft.ML.MixtureHeads.{version}.nupkg")));

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><add key="packed" value="{feed}" /></packageSources></configuration>
                """);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable></PropertyGroup>
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
                System.Console.WriteLine($"consumer-ok {y.sum().item<float>():F3}");
                """);
            string output = DotnetProcess.Run(app, "dotnet", "run", "--nologo");
            Assert.Contains("consumer-ok 8.000", output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            string cached = Path.Combine(packages, "microsoft.ml.mixtureheads", version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }
}
