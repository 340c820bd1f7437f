namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>
/// The SpamAssassin mails as a second language-model corpus beside Brown: each mail's body text (<see cref="MailText"/>:
/// MIME decoded, HTML reduced to text, whitespace collapsed, headers and attachments left out), one document per mail.
/// Empty bodies, exact duplicates (the corpus repeats some mails) and bodies that begin with mail headers (the raw text of
/// a mail MimeKit cannot parse, or a whole mail pasted into another) are dropped, and each body is cut to a maximum length, since a few mails carry pasted logs
/// tens of thousands of characters long.
/// </summary>
public static partial class SpamAssassinText
{
    /// <summary>The default cut of each body, in characters.</summary>
    public const int DefaultMaxCharacters = 4000;

    /// <summary>
    /// The mail bodies under <paramref name="directory"/> (default: <see cref="DatasetLocations.SpamAssassin"/>), split
    /// deterministically: of the distinct non-empty bodies in reading order, body i goes to validation when
    /// floor((i + 1) f) &gt; floor(i f), so validation gets floor(n f) bodies spread evenly over every folder.
    /// </summary>
    /// <param name="directory">The corpus folder, as for <see cref="SpamAssassin.Read"/>.</param>
    /// <param name="validationFraction">The share f held out, in [0, 1). Default 0.1.</param>
    /// <param name="includeSpam">Whether spam bodies are included (else ham only). Default true.</param>
    /// <param name="maxCharacters">Each body is cut to this many characters (never inside a surrogate pair). Default 4000.</param>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside [0, 1) or the cut is below 1.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDatasetException">A mail file is malformed (the exception names it).</exception>
    public static (IReadOnlyList<string> Train, IReadOnlyList<string> Validation) Read(
        string? directory = null, double validationFraction = 0.1, bool includeSpam = true, int maxCharacters = DefaultMaxCharacters)
    {
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCharacters, 1);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var train = new List<string>();
        var validation = new List<string>();
        foreach (var message in SpamAssassin.Read(directory))
        {
            if (message.IsSpam && !includeSpam) continue;
            string body = Cut(message.Body.Trim(), maxCharacters).TrimEnd();
            if (body.Length == 0 || HeaderLine().IsMatch(body) || !seen.Add(body)) continue;
            int i = seen.Count - 1;
            bool held = Math.Floor((i + 1) * validationFraction) > Math.Floor(i * validationFraction);
            (held ? validation : train).Add(body);
        }
        return (train, validation);
    }

    /// <summary>A transport header at the start of a body.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^(From \S+@|Return-Path: |Received: |Delivered-To: |Message-I[Dd]: |X-[A-Za-z-]+: )")]
    private static partial System.Text.RegularExpressions.Regex HeaderLine();

    private static string Cut(string text, int maxCharacters)
    {
        if (text.Length <= maxCharacters) return text;
        int length = char.IsHighSurrogate(text[maxCharacters - 1]) ? maxCharacters - 1 : maxCharacters;
        return text[..length];
    }
}
