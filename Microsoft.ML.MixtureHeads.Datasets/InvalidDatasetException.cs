namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>A dataset file exists but its content is not what the reader expects (truncated, corrupt, wrong format).</summary>
public sealed class InvalidDatasetException : IOException
{
    /// <summary>Creates the error for <paramref name="filePath"/>.</summary>
    public InvalidDatasetException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner) => FilePath = filePath;

    /// <summary>The file at fault.</summary>
    public string FilePath { get; }
}
