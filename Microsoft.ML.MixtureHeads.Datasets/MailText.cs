using System.Text;
using System.Text.RegularExpressions;
using MimeKit;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Turns a raw RFC 822 mail into readable text: the decoded subject and the text of its body parts.</summary>
/// <remarks>MimeKit parses the mail (folded headers, RFC 2047 encoded words, quoted-printable and base64, multipart
/// bodies). The body is the text of its text/plain and text/html parts (HTML reduced to its text), attachments
/// skipped; of a multipart/alternative only the text/plain alternative when it has one. A mail MimeKit cannot parse
/// gives an empty subject and its raw text as the body.</remarks>
public static partial class MailText
{
    // .NET knows only the Unicode charsets, ASCII and iso-8859-1 until the code-page provider is registered; without it
    // MimeKit decodes windows-1252, koi8-r, gb2312 and the like as iso-8859-1.
    static MailText() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>The subject and body text of <paramref name="rawMail"/>, whitespace collapsed to single spaces.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="rawMail"/> is null.</exception>
    public static (string Subject, string Body) Parse(string rawMail)
    {
        ArgumentNullException.ThrowIfNull(rawMail);
        try
        {
            // The text is already Unicode (npm's corpus decoded each file as UTF-8), so it goes back to MimeKit as UTF-8.
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(rawMail));
            using var message = MimeMessage.Load(stream);
            var texts = new List<string>();
            CollectText(message.Body, texts);
            return (Collapse(message.Subject ?? ""), Collapse(string.Join("\n", texts)));
        }
        catch (FormatException)
        {
            return ("", Collapse(rawMail));
        }
    }

    private static void CollectText(MimeEntity? entity, List<string> texts)
    {
        switch (entity)
        {
            case MultipartAlternative alternative when alternative.OfType<TextPart>().FirstOrDefault(IsPlainText) is { } plain:
                CollectText(plain, texts);
                break;
            case Multipart multipart:
                foreach (var child in multipart) CollectText(child, texts);
                break;
            case TextPart part when !part.IsAttachment && (part.IsPlain || part.IsHtml):
                string text = DecodedText(part);
                if (part.IsHtml) text = HtmlText.Extract(text);
                if (text.Length > 0) texts.Add(text);
                break;
        }
    }

    private static bool IsPlainText(TextPart part) => part.IsPlain && !part.IsAttachment;

    // Base64 and quoted-printable content decodes to bytes in the part's charset; any other content is the corpus's
    // own Unicode text, re-encoded as UTF-8 above, whatever charset the part declares.
    private static string DecodedText(TextPart part) =>
        part.ContentTransferEncoding is ContentEncoding.Base64 or ContentEncoding.QuotedPrintable ? part.Text : part.GetText(Encoding.UTF8);

    private static string Collapse(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
