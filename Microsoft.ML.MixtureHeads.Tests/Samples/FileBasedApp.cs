using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>Runs a .NET 10 file-based app the way a user does, <c>dotnet run app.cs -- arguments</c>.</summary>
internal static class FileBasedApp
{
    /// <summary>Builds and runs <paramref name="app"/> in <paramref name="workingDirectory"/>; asserts exit code 0 and
    /// returns standard output.</summary>
    /// <remarks>
    /// Two test-only build settings, neither of which changes the program: the library is used as the tests built it
    /// (same configuration) instead of being rebuilt while other tests read it, and libtorch (1.3 GB) is hard-linked
    /// from the NuGet cache instead of copied, which the libstdc++ build step allows (it replaces the file it patches,
    /// never writes through a link). The build output stays where the SDK puts every file-based app's
    /// (~/.local/share/dotnet/runfile): <c>--artifacts-path</c> would apply to the referenced library too.
    /// </remarks>
    public static string Run(string app, string workingDirectory, params string[] arguments) =>
        DotnetProcess.Run(workingDirectory, "dotnet",
        [
            "run", app, "-c", DotnetProcess.Configuration,
            "-p:BuildProjectReferences=false", "-p:CreateHardLinksForCopyLocalIfPossible=true",
            "--", .. arguments,
        ]);
}
