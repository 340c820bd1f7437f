using System.Text;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>
/// Rejoins the Brown corpus's tokens into ordinary text: <c>``</c> and <c>''</c> become straight double quotes
/// attached to the words they enclose, closing punctuation attaches to the word before it, opening brackets to the
/// word after.
/// </summary>
internal static class BrownDetokenizer
{
    private static readonly HashSet<string> AttachLeft = new(StringComparer.Ordinal) { ",", ".", ";", ":", "?", "!", ")", "]", "''", "'", "%" };
    private static readonly HashSet<string> AttachRight = new(StringComparer.Ordinal) { "``", "(", "[" };

    /// <summary>The words of a text (sentence after sentence) as text.</summary>
    public static string Join(IReadOnlyList<string> words)
    {
        var text = new StringBuilder();
        bool glueNext = true;   // no space before the first word
        foreach (string word in words)
        {
            if (!glueNext && !AttachLeft.Contains(word)) text.Append(' ');
            text.Append(word switch { "``" or "''" => "\"", _ => word });
            glueNext = AttachRight.Contains(word);
        }
        return text.ToString();
    }
}
