using System.Globalization;
using System.IO.Compression;
using Microsoft.ML.MixtureHeads.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// A language model exported as an ONNX decoder graph with a key/value cache, run with ONNX Runtime and no TorchSharp:
/// the prompt goes through the graph once, then one token at a time with the previous step's present keys and values
/// as the past. Tokens are picked by the same sampler as TorchSharp's <c>CausalLMGenerator</c>, so with equal logits
/// and options both give the same tokens. Thread-safe: each generation has its own cache.
/// </summary>
public sealed class OnnxCausalLM : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _heads, _headDim;

    /// <summary>Loads a decoder graph from ONNX bytes (as <c>CausalLMDecoderOnnx.Export</c> writes them).</summary>
    /// <exception cref="InvalidDataException">The bytes are not such a graph (the message names what is missing).</exception>
    public OnnxCausalLM(byte[] model)
    {
        _session = OnnxGraphSession.Open(model);
        try
        {
            var metadata = _session.ModelMetadata.CustomMetadataMap;
            int Read(string key)
            {
                if (!metadata.TryGetValue(key, out var text) || !int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 0)
                    throw new InvalidDataException($"The ONNX model is not an exported language-model decoder: metadata '{key}' is missing or not a count.");
                return value;
            }
            Layers = Read(CausalLMDecoderGraph.LayersKey);
            _heads = Read(CausalLMDecoderGraph.HeadsKey);
            _headDim = Read(CausalLMDecoderGraph.HeadDimKey);
            VocabularySize = Read(CausalLMDecoderGraph.VocabularySizeKey);
            MaxLength = Read(CausalLMDecoderGraph.MaxLengthKey);
            if (metadata.TryGetValue(CausalLMDecoderGraph.TokenizerKey, out var tokenizer))
                Codec = tokenizer switch
                {
                    CausalLMDecoderGraph.ByteTokenizerName => new ByteTokenizer(),
                    CausalLMDecoderGraph.CompactCl100kName => new CompactCl100kCodec(CompactVocabulary.FromJson(
                        metadata.TryGetValue(CausalLMDecoderGraph.VocabularyKey, out var json) ? json
                            : throw new InvalidDataException($"The model's cl100k tokenizer has no vocabulary (metadata '{CausalLMDecoderGraph.VocabularyKey}')."))),
                    _ => throw new InvalidDataException($"The model's tokenizer '{tokenizer}' is not one this package knows."),
                };
            if (metadata.ContainsKey(CausalLMDecoderGraph.EndOfTextKey)) EndOfText = Read(CausalLMDecoderGraph.EndOfTextKey);
            _inputNames = [CausalLMDecoderGraph.InputIds, .. Enumerable.Range(0, Layers).SelectMany(i => new[] { CausalLMDecoderGraph.PastKey(i), CausalLMDecoderGraph.PastValue(i) })];
            _outputNames = [CausalLMDecoderGraph.Logits, .. Enumerable.Range(0, Layers).SelectMany(i => new[] { CausalLMDecoderGraph.PresentKey(i), CausalLMDecoderGraph.PresentValue(i) })];
            var missing = _inputNames.Except(_session.InputNames).Concat(_outputNames.Except(_session.OutputNames)).ToArray();
            if (missing.Length > 0)
                throw new InvalidDataException($"The ONNX model is not an exported language-model decoder: it lacks [{string.Join(", ", missing)}].");
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads a saved language model: an ONNX file, or a <c>.zip</c> holding it as the entry <c>causal_lm.onnx</c> (or
    /// <paramref name="zipEntry"/>).
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>, or the zip has no such entry.</exception>
    /// <exception cref="InvalidDataException">The file is not an exported decoder graph.</exception>
    public static OnnxCausalLM Load(string path, string? zipEntry = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No language model at '{path}'.", path);
        if (!path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) && zipEntry is null) return new OnnxCausalLM(File.ReadAllBytes(path));
        using var zip = ZipFile.OpenRead(path);
        string name = zipEntry ?? CausalLMDecoderGraph.ZipEntryName;
        var entry = zip.GetEntry(name) ?? throw new FileNotFoundException($"The zip '{path}' has no entry '{name}'.", path);
        using var stream = entry.Open();
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return new OnnxCausalLM(bytes.ToArray());
    }

    /// <summary>Transformer blocks, each with its own key/value cache.</summary>
    public int Layers { get; }

    /// <summary>Token ids the model reads and predicts.</summary>
    public int VocabularySize { get; }

    /// <summary>The longest sequence (prompt plus generated tokens) the model attends over.</summary>
    public int MaxLength { get; }

    /// <summary>The tokenizer recorded with the model, or null when it was exported for token ids only.</summary>
    public ITokenCodec? Codec { get; }

    /// <summary>The id that ends a text, when the tokenizer has one (text generation stops there).</summary>
    public long? EndOfText { get; }

    /// <summary>
    /// The new token ids after <paramref name="prompt"/>, lazily, one by one. Ends after <c>MaxNewTokens</c>, at a stop
    /// token (not returned), or when <see cref="MaxLength"/> is reached.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is empty, longer than MaxLength, or holds an id outside the vocabulary.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is invalid (named).</exception>
    public IEnumerable<long> GenerateTokens(IReadOnlyList<long> prompt, GenerationOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new GenerationOptions();
        options.Validate();
        DecodingLoop.CheckPrompt(prompt, VocabularySize, MaxLength);
        return Stream(prompt.ToArray(), options);
    }

    /// <summary>
    /// The text generated after <paramref name="prompt"/> with the model's tokenizer, in pieces as tokens are made.
    /// Ends as <see cref="GenerateTokens"/> does, at the end-of-text id, or where a stop sequence first appears (the
    /// stop text is not returned).
    /// </summary>
    /// <exception cref="InvalidOperationException">The model was exported without a tokenizer.</exception>
    /// <exception cref="ArgumentException">The prompt encodes to no token or to more than MaxLength.</exception>
    public IEnumerable<string> GenerateText(string prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var codec = Codec ?? throw new InvalidOperationException("This model was exported without a tokenizer; generate from token ids with GenerateTokens.");
        options ??= new GenerationOptions();
        if (EndOfText is { } end && !options.StopTokens.Contains(end)) options = options with { StopTokens = [.. options.StopTokens, end] };
        return GeneratedText.Stream(GenerateTokens(codec.Encode(prompt), options), codec, options.StopSequences);
    }

    /// <summary>
    /// One decoder step for a single sequence: the logits [T, V] of <paramref name="tokens"/> read after the cached
    /// positions of <paramref name="cache"/>, which then holds them too.
    /// </summary>
    internal float[] Logits(IReadOnlyList<long> tokens, DecoderCache cache)
    {
        var inputs = new List<OrtValue>(_inputNames.Length);
        try
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(tokens.ToArray(), [1, tokens.Count]));
            inputs.AddRange(cache.Past);
            var outputs = _session.Run(_runOptions, _inputNames, inputs, _outputNames);
            float[] logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            cache.Replace(outputs);
            return logits;
        }
        finally
        {
            inputs[0].Dispose();
        }
    }

    /// <summary>An empty cache (past length 0) for one sequence.</summary>
    internal DecoderCache CreateCache() => new(Layers, _heads, _headDim);

    private readonly RunOptions _runOptions = new();
    private bool _disposed;

    private IEnumerable<long> Stream(long[] prompt, GenerationOptions options)
    {
        using var cache = CreateCache();
        foreach (long token in DecodingLoop.Run(prompt, options, MaxLength, sequence =>
        {
            // With a cache the graph reads only what it has not seen; without, the whole sequence after an empty past.
            if (!options.UseCache) cache.Clear();
            var fresh = sequence.Skip(cache.Length).ToList();
            var logits = Logits(fresh, cache);
            return logits[^VocabularySize..];                                                   // the last position
        }))
            yield return token;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>
    /// The past keys and values of one sequence, as ONNX Runtime values: empty [1, H, 0, D] tensors at first, then a
    /// step's present outputs (kept alive until the next step replaces them or the cache is disposed).
    /// </summary>
    internal sealed class DecoderCache : IDisposable
    {
        private readonly int _layers, _heads, _headDim;
        private IDisposableReadOnlyCollection<OrtValue>? _outputs;
        private OrtValue[] _empty = [];

        public DecoderCache(int layers, int heads, int headDim)
        {
            (_layers, _heads, _headDim) = (layers, heads, headDim);
            Clear();
        }

        /// <summary>Positions cached so far.</summary>
        public int Length { get; private set; }

        /// <summary>past_key_0, past_value_0, past_key_1, ... in input order.</summary>
        public IEnumerable<OrtValue> Past => _outputs is null ? _empty : _outputs.Skip(1);

        /// <summary>Takes a step's outputs (logits first, then the present keys and values) as the new past.</summary>
        public void Replace(IDisposableReadOnlyCollection<OrtValue> outputs)
        {
            _outputs?.Dispose();
            _outputs = outputs;
            Length = (int)outputs[1].GetTensorTypeAndShape().Shape[2];
        }

        /// <summary>Forgets every cached position.</summary>
        public void Clear()
        {
            Dispose();
            _empty = Enumerable.Range(0, 2 * _layers)
                .Select(_ => OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, _heads, 0, _headDim]))
                .ToArray();
            Length = 0;
        }

        /// <inheritdoc />
        public void Dispose()
        {
            _outputs?.Dispose();
            _outputs = null;
            foreach (var value in _empty) value.Dispose();
            _empty = [];
        }
    }
}
