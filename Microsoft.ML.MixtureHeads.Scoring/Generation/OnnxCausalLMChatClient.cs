using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an <see cref="OnnxCausalLM"/> (ONNX Runtime, no TorchSharp).
/// The model is a base language model, not an instruction-tuned one, so the prompt format is plain text: see
/// <see cref="FormatPrompt"/>; the response is the model's continuation of it.
/// </summary>
/// <remarks>
/// <see cref="ChatOptions"/> map onto <see cref="GenerationOptions"/>: <c>MaxOutputTokens</c> -> MaxNewTokens,
/// <c>Temperature</c> (0 = greedy), <c>TopK</c>, <c>TopP</c>, <c>Seed</c>, <c>StopSequences</c> (added to the
/// defaults'), and <c>AdditionalProperties["RepetitionPenalty"]</c>; unset options keep the defaults given to the
/// constructor. Generation also stops at the tokenizer's end-of-text id. Tools, response formats and the frequency
/// and presence penalties are not supported and are ignored. Cancellation is checked before every token.
/// </remarks>
public sealed class OnnxCausalLMChatClient : IChatClient
{
    /// <summary>The <see cref="ChatOptions.AdditionalProperties"/> key of the repetition penalty (a number > 0; 1 is off).</summary>
    public const string RepetitionPenaltyKey = "RepetitionPenalty";

    private readonly OnnxCausalLM _model;
    private readonly GenerationOptions _defaults;
    private readonly bool _ownsModel;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A chat client over <paramref name="model"/>.</summary>
    /// <param name="model">A language model exported with a tokenizer.</param>
    /// <param name="defaults">Generation options where the chat options say nothing (default: <see cref="GenerationOptions"/>'s).</param>
    /// <param name="modelId">Reported as the model id of responses and in the client's metadata.</param>
    /// <param name="ownsModel">Whether disposing the client disposes the model.</param>
    /// <exception cref="ArgumentException">The model has no tokenizer (it was exported for token ids only).</exception>
    /// <exception cref="ArgumentOutOfRangeException">A default option is invalid (named).</exception>
    public OnnxCausalLMChatClient(OnnxCausalLM model, GenerationOptions? defaults = null, string modelId = "moh-causal-lm", bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(modelId);
        if (model.Codec is null) throw new ArgumentException("The model was exported without a tokenizer; a chat client needs one to read and write text.", nameof(model));
        _defaults = defaults ?? new GenerationOptions();
        _defaults.Validate();
        (_model, _ownsModel) = (model, ownsModel);
        _metadata = new ChatClientMetadata(nameof(OnnxCausalLM), defaultModelId: modelId);
    }

    /// <summary>Loads a saved language model (<see cref="OnnxCausalLM.Load"/>) into a client that owns it.</summary>
    public static OnnxCausalLMChatClient Load(string path, GenerationOptions? defaults = null, string modelId = "moh-causal-lm") =>
        new(OnnxCausalLM.Load(path), defaults, modelId, ownsModel: true);

    /// <summary>
    /// The prompt the model reads: <paramref name="instructions"/> (when given) and then the text of every message in
    /// order - system, user and assistant alike, without role markers - joined by a newline. The model continues the
    /// last message's text directly, so "Once upon a" is answered with its continuation.
    /// </summary>
    public static string FormatPrompt(IEnumerable<ChatMessage> messages, string? instructions = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var parts = messages.Select(m => m?.Text ?? throw new ArgumentException("A chat message is null.", nameof(messages)));
        return string.Join("\n", string.IsNullOrEmpty(instructions) ? parts : parts.Prepend(instructions));
    }

    /// <summary>The generation options that <paramref name="options"/> make of this client's defaults.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named).</exception>
    public GenerationOptions Resolve(ChatOptions? options)
    {
        var resolved = _defaults;
        if (options is not null)
        {
            if (options.Seed is { } seed && (seed < int.MinValue || seed > int.MaxValue))
                throw new ArgumentOutOfRangeException(nameof(options), seed, "ChatOptions.Seed must fit in a 32-bit integer.");
            double penalty = resolved.RepetitionPenalty;
            if (options.AdditionalProperties?.TryGetValue(RepetitionPenaltyKey, out var value) == true)
                penalty = value is IConvertible number
                    ? number.ToDouble(System.Globalization.CultureInfo.InvariantCulture)
                    : throw new ArgumentOutOfRangeException(nameof(options), value, $"ChatOptions.AdditionalProperties[\"{RepetitionPenaltyKey}\"] must be a number.");
            resolved = resolved with
            {
                MaxNewTokens = options.MaxOutputTokens ?? resolved.MaxNewTokens,
                Temperature = options.Temperature ?? resolved.Temperature,
                TopK = options.TopK ?? resolved.TopK,
                TopP = options.TopP ?? resolved.TopP,
                Seed = options.Seed is { } s ? (int)s : resolved.Seed,
                StopSequences = options.StopSequences is { Count: > 0 } stops ? [.. resolved.StopSequences, .. stops] : resolved.StopSequences,
                RepetitionPenalty = penalty,
            };
        }
        if (_model.EndOfText is { } end && !resolved.StopTokens.Contains(end)) resolved = resolved with { StopTokens = [.. resolved.StopTokens, end] };
        resolved.Validate();
        return resolved;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The messages give an empty prompt.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var run = Start(messages, options, cancellationToken);
        string text = await Task.Run(() => string.Concat(run.Pieces), cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = _metadata.DefaultModelId,
            FinishReason = run.FinishReason,
            Usage = run.Usage,
        };
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The messages give an empty prompt.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (named).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var run = Start(messages, options, cancellationToken);
        string responseId = Guid.NewGuid().ToString("N");
        await Task.Yield();                                                         // the caller's thread goes on; tokens come as they are made
        foreach (string piece in run.Pieces)
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ResponseId = responseId, MessageId = responseId, ModelId = _metadata.DefaultModelId };
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant, ResponseId = responseId, MessageId = responseId, ModelId = _metadata.DefaultModelId,
            FinishReason = run.FinishReason, Contents = [new UsageContent(run.Usage)],
        };
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType == typeof(OnnxCausalLM)) return _model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }

    private Generation Start(IEnumerable<ChatMessage> messages, ChatOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var resolved = Resolve(options);
        var codec = _model.Codec!;
        var prompt = codec.Encode(FormatPrompt(messages, options?.Instructions));
        if (prompt.Count == 0) throw new ArgumentException("The messages hold no text to continue.", nameof(messages));
        if (prompt.Count >= _model.MaxLength) prompt = prompt.Skip(prompt.Count - _model.MaxLength + 1).ToList();   // keep the most recent context
        return new Generation(_model.GenerateTokens(prompt, resolved), prompt.Count, resolved, _model.MaxLength, codec, cancellationToken);
    }

    /// <summary>One generation: its text pieces (lazy), and once they are read, why it ended and the token counts.</summary>
    private sealed class Generation(IEnumerable<long> tokens, int promptTokens, GenerationOptions options, int maxLength, ITokenCodec codec, CancellationToken cancellation)
    {
        private int _made;
        private bool _exhausted;

        public IEnumerable<string> Pieces => GeneratedText.Stream(Counted(), codec, options.StopSequences);

        /// <summary>Length when the token budget or the context ran out, else Stop (a stop token or sequence).</summary>
        public ChatFinishReason FinishReason =>
            _exhausted && (_made == options.MaxNewTokens || promptTokens + _made >= maxLength) ? ChatFinishReason.Length : ChatFinishReason.Stop;

        public UsageDetails Usage => new() { InputTokenCount = promptTokens, OutputTokenCount = _made, TotalTokenCount = promptTokens + _made };

        private IEnumerable<long> Counted()
        {
            using var source = tokens.GetEnumerator();
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                if (!source.MoveNext()) break;
                _made++;
                yield return source.Current;
            }
            _exhausted = true;
        }
    }
}
