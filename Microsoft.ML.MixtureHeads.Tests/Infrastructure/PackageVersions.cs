using System.Xml.Linq;
using Microsoft.ML.MixtureHeads.Tests.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Infrastructure;

/// <summary>The package versions the repository pins in Directory.Packages.props, for the projects tests write.</summary>
internal static class PackageVersions
{
    private static readonly Lazy<Dictionary<string, string>> Versions = new(() =>
        XDocument.Load(Path.Combine(DotnetProcess.RepositoryRoot(), "Directory.Packages.props"))
            .Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.OrdinalIgnoreCase));

    /// <summary>The pinned version of <paramref name="package"/>.</summary>
    public static string Of(string package) =>
        Versions.Value.TryGetValue(package, out var version) ? version : throw new KeyNotFoundException($"Directory.Packages.props pins no version of {package}.");

    /// <summary>(id, pinned version) pairs for a child project.</summary>
    public static (string Id, string Version)[] Pinned(params string[] packages) => packages.Select(p => (p, Of(p))).ToArray();
}
