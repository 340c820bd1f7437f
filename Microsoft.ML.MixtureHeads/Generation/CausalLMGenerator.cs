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
        DecodingLoop.CheckPrompt(prompt, _model.Config.VocabularySize, _model.Config.MaxLength);
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
        return GeneratedText.Stream(tokens, codec, options.StopSequences);
    }

    private IEnumerable<long> Stream(IReadOnlyList<long> prompt, GenerationOptions options)
    {
        using var cache = options.UseCache ? _model.CreateCache() : null;
        // With a cache the model reads only what it has not seen; without, the whole sequence.
        foreach (long token in DecodingLoop.Run(prompt, options, _model.Config.MaxLength,
            sequence => cache is null ? LastLogits(sequence, null) : LastLogits(sequence.Skip((int)cache.Length).ToList(), cache)))
            yield return token;
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
