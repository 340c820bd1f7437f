namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>Turns a stream of generated token ids into a stream of text pieces, honouring stop sequences.</summary>
internal static class GeneratedText
{
    /// <summary>
    /// The text of <paramref name="tokens"/> in pieces as they come. A piece is held back while it could still be the
    /// start of a stop sequence or ends in an incomplete character; the text ends where a stop sequence first appears
    /// (the stop text is not returned).
    /// </summary>
    public static IEnumerable<string> Stream(IEnumerable<long> tokens, ITokenCodec codec, IReadOnlyList<string> stops)
    {
        var generated = new List<long>();
        int emitted = 0, holdBack = stops.Count == 0 ? 0 : stops.Max(s => s.Length) - 1;
        foreach (long token in tokens)
        {
            generated.Add(token);
            string text = codec.Decode(generated);
            int stopAt = FirstStop(text, stops);
            if (stopAt >= 0)
            {
                if (stopAt > emitted) yield return text[emitted..stopAt];
                yield break;
            }
            int safe = text.Length - holdBack;
            while (safe > emitted && text[safe - 1] == '\uFFFD') safe--;   // perhaps a character still missing its bytes
            if (safe > emitted)
            {
                yield return text[emitted..safe];
                emitted = safe;
            }
        }
        string rest = codec.Decode(generated);
        if (rest.Length > emitted) yield return rest[emitted..];
    }

    private static int FirstStop(string text, IReadOnlyList<string> stops)
    {
        int first = -1;
        foreach (string stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }
}
