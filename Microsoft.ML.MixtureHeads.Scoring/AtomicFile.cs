namespace Microsoft.ML.MixtureHeads;

/// <summary>
/// Writes a file so that a reader, or the next process after a crash, sees either the old file whole or the new one
/// whole: the bytes go to a temporary file in the same folder, are flushed to disk, and the temporary file is then
/// renamed over the target (an atomic replace on one file system).
/// </summary>
internal static class AtomicFile
{
    /// <summary>The suffix of the temporary files; a process killed mid-write leaves one behind, never a damaged target.</summary>
    public const string TemporarySuffix = ".partial";

    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, replacing any file there only once every byte is on disk.</summary>
    /// <exception cref="DirectoryNotFoundException">The target's folder does not exist (named in the message).</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string target = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"Cannot save '{path}': the folder '{folder}' does not exist.");
        string temporary = Path.Combine(folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}{TemporarySuffix}");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
            }
            // The writer may have closed the stream itself (ML.NET's Save does), so fsync through a handle of our own.
            using (var sync = new FileStream(temporary, FileMode.Open, FileAccess.Write, FileShare.None))
            {
                sync.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> as <see cref="Write(string, Action{Stream})"/> does.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
