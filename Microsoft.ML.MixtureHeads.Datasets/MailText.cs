using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Turns a raw RFC 822 mail into readable text: the decoded subject and the text of its body parts.</summary>
/// <remarks>Deliberately small: unfolds headers, decodes RFC 2047 encoded words, quoted-printable and base64,
/// walks multipart bodies, keeps text/plain and text/html parts (tags stripped), skips attachments.</remarks>
public static partial class MailText
{
    /// <summary>The subject and body text of <paramref name="rawMail"/>.</summary>
    public static (string Subject, string Body) Parse(string rawMail)
    {
        ArgumentNullException.ThrowIfNull(rawMail);
        var (headers, body) = SplitHeaders(rawMail.Replace("\r\n", "\n"));
        string subject = DecodeEncodedWords(headers.GetValueOrDefault("subject", "")).Trim();
        return (subject, Collapse(BodyText(headers, body, depth: 0)));
    }

    private static (Dictionary<string, string> Headers, string Body) SplitHeaders(string text)
    {
        int end = text.IndexOf("\n\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        string body = end < 0 ? "" : text[(end + 2)..];
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string? last = null;
        foreach (string line in head.Split('\n'))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && last != null)
            {
                headers[last] += " " + line.Trim();
                continue;
            }
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            last = line[..colon].Trim();
            headers.TryAdd(last, line[(colon + 1)..].Trim()); // the first occurrence wins, as mail readers show it
        }
        return (headers, body);
    }

    private static string BodyText(Dictionary<string, string> headers, string body, int depth)
    {
        string contentType = headers.GetValueOrDefault("content-type", "text/plain");
        string mediaType = contentType.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType.StartsWith("multipart/", StringComparison.Ordinal) && depth < 8 && Parameter(contentType, "boundary") is { } boundary)
        {
            var parts = body.Split("--" + boundary, StringSplitOptions.None).Skip(1)
                .TakeWhile(p => !p.StartsWith("--", StringComparison.Ordinal))
                .Select(p => SplitHeaders(p.TrimStart('\n')))
                .Select(p => BodyText(p.Headers, p.Body, depth + 1));
            return string.Join("\n", parts.Where(p => p.Length > 0));
        }
        if (!mediaType.StartsWith("text/", StringComparison.Ordinal) && headers.ContainsKey("content-type")) return "";

        string decoded = DecodeTransfer(body, headers.GetValueOrDefault("content-transfer-encoding", ""), Parameter(contentType, "charset"));
        return mediaType == "text/html" ? StripHtml(decoded) : decoded;
    }

    private static string? Parameter(string headerValue, string name)
    {
        var match = Regex.Match(headerValue, name + "\\s*=\\s*(\"([^\"]*)\"|([^;\\s]+))", RegexOptions.IgnoreCase);
        return !match.Success ? null : match.Groups[2].Success ? match.Groups[2].Value : match.Groups[3].Value;
    }

    private static string DecodeTransfer(string body, string encoding, string? charset)
    {
        encoding = encoding.Trim().ToLowerInvariant();
        if (encoding == "quoted-printable") return Decode(QuotedPrintable(body, underscoreIsSpace: false), charset);
        if (encoding == "base64")
        {
            try { return Decode(Convert.FromBase64String(Regex.Replace(body, "[^A-Za-z0-9+/=]", "")), charset); }
            catch (FormatException) { return body; }
        }
        return body;
    }

    private static byte[] QuotedPrintable(string text, bool underscoreIsSpace)
    {
        var bytes = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '=' && i + 1 < text.Length && text[i + 1] == '\n') { i++; continue; } // soft line break
            if (c == '=' && i + 2 < text.Length && Uri.IsHexDigit(text[i + 1]) && Uri.IsHexDigit(text[i + 2]))
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
                continue;
            }
            if (underscoreIsSpace && c == '_') { bytes.Add((byte)' '); continue; }
            if (c < 256) bytes.Add((byte)c);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        return bytes.ToArray();
    }

    private static string Decode(byte[] bytes, string? charset) =>
        charset != null && charset.Contains("utf-8", StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);

    private static string DecodeEncodedWords(string value) =>
        EncodedWord().Replace(value, m =>
        {
            string charset = m.Groups[1].Value, mode = m.Groups[2].Value.ToUpperInvariant(), payload = m.Groups[3].Value;
            try
            {
                byte[] bytes = mode == "B" ? Convert.FromBase64String(payload) : QuotedPrintable(payload, underscoreIsSpace: true);
                return Decode(bytes, charset);
            }
            catch (FormatException) { return m.Value; }
        });

    private static string StripHtml(string html)
    {
        string noScripts = ScriptOrStyle().Replace(html, " ");
        string noTags = Tag().Replace(noScripts, " ");
        return WebUtility.HtmlDecode(noTags);
    }

    private static string Collapse(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"=\?([^?]+)\?([BbQq])\?([^?]*)\?=")]
    private static partial Regex EncodedWord();

    [GeneratedRegex(@"<(script|style)[^>]*>.*?</\1\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"<[^>]*>", RegexOptions.Singleline)]
    private static partial Regex Tag();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
