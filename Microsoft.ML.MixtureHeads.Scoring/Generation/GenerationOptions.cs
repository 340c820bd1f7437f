namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// How a language-model generator (<c>CausalLMGenerator</c> on TorchSharp, <see cref="OnnxCausalLM"/> on ONNX Runtime) picks
/// each new token; both share one sampler, so the same model, prompt and options give the same tokens on either. Order of the sampling steps: repetition penalty on the
/// logits, then greedy (temperature 0) or temperature, top-k, top-p, and a draw from a generator seeded with
/// <see cref="Seed"/>, so the same options and prompt give the same tokens.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>The most tokens to generate (fewer when a stop token or sequence comes, or the context is full). Default 64.</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Divides the logits before sampling; 0 means greedy (always the most likely token). Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Sample only among the k most likely tokens; 0 (the default) keeps all. 1 is greedy.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the most likely tokens whose probabilities first sum to at least p; 1 (the default) keeps all.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>
    /// CTRL's penalty on every token already in the prompt or the output: a positive logit is divided by it, a negative
    /// one multiplied. 1 (the default) is off; above 1 discourages repeats.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seeds the draws. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Token ids that end generation when drawn (not returned), e.g. an end-of-text id. Default none.</summary>
    public IReadOnlyList<long> StopTokens { get; init; } = [];

    /// <summary>Texts that end text generation where they first appear in the output (the stop text is not returned). Default none.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>Reuse each earlier position's keys and values (default) instead of recomputing the whole sequence for every token.</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must not be negative.");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number >= 0 (0 = greedy).");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must not be negative (0 = off).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1] (1 = off).");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "RepetitionPenalty must be a finite number > 0 (1 = off).");
        ArgumentNullException.ThrowIfNull(StopTokens);
        ArgumentNullException.ThrowIfNull(StopSequences);
        if (StopSequences.Any(string.IsNullOrEmpty))
            throw new ArgumentOutOfRangeException(nameof(StopSequences), "A stop sequence must not be null or empty.");
    }
}
