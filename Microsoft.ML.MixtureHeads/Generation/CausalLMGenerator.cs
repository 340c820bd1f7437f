using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// Generates with a <see cref="MoHCausalLM"/>: the prompt goes through the model once, then one token at a time,
/// each step reading only the new token against the cached keys and values (or, with <c>UseCache</c> off, the whole
/// sequence again). Tokens and text stream as they are made: the enumerables are lazy, and each step runs in its own
/// dispose scope in evaluation mode without gradients.
/// </summary>
/// <param name="model">The language model (its device is where generation runs).</param>
public sealed class CausalLMGenerator(MoHCausalLM model)
{
    private readonly MoHCausalLM _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>
    /// The new token ids after <paramref name="prompt"/>, one by one. Ends after <c>MaxNewTokens</c>, at a stop
    /// token (not returned), or when the model's <c>MaxLength</c> is reached.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty, longer than the model's MaxLength, or holds an id outside the vocabulary.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (named).</exception>
    public IEnumerable<long> GenerateTokens(IReadOnlyList<long> prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        options.Validate();
        var config = _model.Config;
        if (prompt.Count == 0) throw new ArgumentException("The prompt must hold at least one token.", nameof(prompt));
        if (prompt.Count > config.MaxLength)
            throw new ArgumentException($"The prompt has {prompt.Count} tokens; the model reads at most MaxLength {config.MaxLength}.", nameof(prompt));
        foreach (long id in prompt)
            if (id < 0 || id >= config.VocabularySize)
                throw new ArgumentException($"Prompt token ids must lie in [0, {config.VocabularySize}); found {id}.", nameof(prompt));
        return Stream(prompt, options);
    }

    /// <summary>
    /// The text generated after <paramref name="prompt"/>, in pieces as tokens are made (a piece is held back while it
    /// could still be the start of a stop sequence or ends in an incomplete character). Ends as
    /// <see cref="GenerateTokens"/> does, or where a stop sequence first appears (the stop text is not returned).
    /// </summary>
    /// <exception cref="ArgumentException">The prompt encodes to no token or to more than the model's MaxLength.</exception>
    public IEnumerable<string> GenerateText(string prompt, ITokenCodec codec, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(codec);
        options ??= new GenerationOptions();
        var tokens = GenerateTokens(codec.Encode(prompt), options);
        return StreamText(tokens, codec, options.StopSequences);
    }

    private static IEnumerable<string> StreamText(IEnumerable<long> tokens, ITokenCodec codec, IReadOnlyList<string> stops)
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

    private IEnumerable<long> Stream(IReadOnlyList<long> prompt, GenerationOptions options)
    {
        var sequence = new List<long>(prompt);
        var seen = new HashSet<long>(prompt);
        var stops = new HashSet<long>(options.StopTokens);
        var random = new Random(options.Seed);
        using var cache = options.UseCache ? _model.CreateCache() : null;
        for (int made = 0; made < options.MaxNewTokens; made++)
        {
            // With a cache the model reads only what it has not seen; without, the whole sequence.
            var logits = cache is null ? LastLogits(sequence, null) : LastLogits(sequence.Skip((int)cache.Length).ToList(), cache);
            long next = TokenSampler.Next(logits, seen, options, random);
            if (stops.Contains(next)) yield break;
            yield return next;
            sequence.Add(next);
            seen.Add(next);
            if (sequence.Count >= _model.Config.MaxLength) yield break;
        }
    }

    /// <summary>The logits [V] after the last of <paramref name="tokens"/>, appended to <paramref name="cache"/> when given.</summary>
    private float[] LastLogits(IReadOnlyList<long> tokens, CausalLMCache? cache)
    {
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var device = _model.tok_embeddings.weight.device;
            var input = tensor(tokens.ToArray(), [1, tokens.Count], device: device);
            var output = cache is null ? _model.forward(input) : _model.forward(input, cache);
            return output.Output[0, -1].cpu().data<float>().ToArray();                 // [V]
        }
        finally
        {
            if (wasTraining) _model.train();
        }
    }
}
