using System.Net;
using System.Text.RegularExpressions;

namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>The readable text of an HTML part: script and style elements dropped, every tag replaced by a space,
/// entities decoded. Deliberately lenient: MimeKit has a tokenizer but no HTML-to-text converter, and a tokenizer that
/// follows the HTML rules hides all text after an unclosed <c>&lt;!--</c>, a trick common in the spam of the corpus.</summary>
internal static partial class HtmlText
{
    public static string Extract(string html)
    {
        string noScripts = ScriptOrStyle().Replace(html, " ");
        string noTags = Tag().Replace(noScripts, " ");
        return WebUtility.HtmlDecode(noTags);
    }

    [GeneratedRegex(@"<(script|style)[^>]*>.*?</\1\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"<[^>]*>", RegexOptions.Singleline)]
    private static partial Regex Tag();
}
