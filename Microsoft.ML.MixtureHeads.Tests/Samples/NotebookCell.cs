using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Tests.Samples;

/// <summary>A notebook cell's source and its hash, computed as examples/notebooks/notebook-outputs.cs records it.</summary>
internal static class NotebookCell
{
    /// <summary>nbformat stores a source as one string or as a list of lines; editors on Windows write CRLF.</summary>
    public static string Source(JsonElement cell)
    {
        var source = cell.GetProperty("source");
        string text = source.ValueKind == JsonValueKind.String
            ? source.GetString()!
            : string.Concat(source.EnumerateArray().Select(line => line.GetString()));
        return text.Replace("\r\n", "\n");
    }

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
