namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// The token loop every generator runs, whatever computes the logits (TorchSharp or ONNX Runtime): check the prompt,
/// then repeatedly ask for the logits after the sequence so far, sample with <see cref="TokenSampler"/> from one
/// <see cref="Random"/> seeded with <see cref="GenerationOptions.Seed"/>, and stop at a stop token, after
/// <see cref="GenerationOptions.MaxNewTokens"/>, or when the context is full. Sharing it makes the generators agree
/// token for token when their logits agree.
/// </summary>
internal static class DecodingLoop
{
    /// <summary>Throws when <paramref name="prompt"/> is empty, longer than <paramref name="maxLength"/>, or holds an id outside the vocabulary.</summary>
    /// <exception cref="ArgumentException">The prompt is unusable (the message says why).</exception>
    public static void CheckPrompt(IReadOnlyList<long> prompt, int vocabularySize, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Count == 0) throw new ArgumentException("The prompt must hold at least one token.", nameof(prompt));
        if (prompt.Count > maxLength)
            throw new ArgumentException($"The prompt has {prompt.Count} tokens; the model reads at most MaxLength {maxLength}.", nameof(prompt));
        foreach (long id in prompt)
            if (id < 0 || id >= vocabularySize)
                throw new ArgumentException($"Prompt token ids must lie in [0, {vocabularySize}); found {id}.", nameof(prompt));
    }

    /// <summary>The new tokens after <paramref name="prompt"/>, lazily, one per call of <paramref name="logitsAfter"/>.</summary>
    /// <param name="prompt">A checked prompt.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="maxLength">The model's context length: generation ends when the sequence reaches it.</param>
    /// <param name="logitsAfter">The next-token logits [V] after the whole sequence so far (prompt and generated tokens).</param>
    public static IEnumerable<long> Run(IReadOnlyList<long> prompt, GenerationOptions options, int maxLength, Func<IReadOnlyList<long>, float[]> logitsAfter)
    {
        var sequence = new List<long>(prompt);
        var seen = new HashSet<long>(prompt);
        var stops = new HashSet<long>(options.StopTokens);
        var random = new Random(options.Seed);
        for (int made = 0; made < options.MaxNewTokens; made++)
        {
            long next = TokenSampler.Next(logitsAfter(sequence), seen, options, random);
            if (stops.Contains(next)) yield break;
            yield return next;
            sequence.Add(next);
            seen.Add(next);
            if (sequence.Count >= maxLength) yield break;
        }
    }
}
