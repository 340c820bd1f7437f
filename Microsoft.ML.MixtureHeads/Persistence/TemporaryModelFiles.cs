using System.Collections.Concurrent;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// ONNX files we write for ML.NET's OnnxTransformer. ML.NET's stream overload leaves its own copy behind even after
/// Dispose (measured on 5.0.1), and the transformer re-reads the file by path when the model is saved, so we own the
/// file instead: it lives until the fitted transformer is disposed, or at the latest until the process exits.
/// </summary>
internal static class TemporaryModelFiles
{
    private static readonly ConcurrentDictionary<string, byte> Files = new();

    static TemporaryModelFiles() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>Writes <paramref name="bytes"/> to a new file in <paramref name="folder"/> (<c>MLContext.TempFilePath</c>;
    /// null: the system's temp folder) and returns its path.</summary>
    public static string Write(byte[] bytes, string? folder = null)
    {
        string path = Path.Combine(string.IsNullOrEmpty(folder) ? Path.GetTempPath() : folder, $"mixtureheads-{Guid.NewGuid():N}.onnx");
        AtomicFile.WriteAllBytes(path, bytes);
        Files[path] = 0;
        return path;
    }

    /// <summary>Deletes a file written by <see cref="Write"/>.</summary>
    public static void Delete(string path)
    {
        Files.TryRemove(path, out _);
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static void DeleteAll()
    {
        foreach (string path in Files.Keys) Delete(path);
    }
}
