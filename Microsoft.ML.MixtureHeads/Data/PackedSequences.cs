using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// A token stream cut into windows of T + 1 tokens that overlap by one (window i starts at i T), so every token after
/// the first is predicted exactly once per epoch, however documents fall across windows; windows are batched, and a
/// training source shuffles their order every epoch (seeded).
/// </summary>
internal sealed class PackedSequences : IBatchSource<LanguageModelBatch>
{
    private readonly long[] _stream;
    private readonly int _length, _batchSize, _seed;
    private readonly bool _shuffle;

    /// <summary>Windows of <paramref name="sequenceLength"/> + 1 tokens of <paramref name="stream"/>, <paramref name="batchSize"/> per batch.</summary>
    /// <exception cref="ArgumentException">The stream is shorter than one window, or a size is below 1.</exception>
    public PackedSequences(IReadOnlyList<long> stream, int sequenceLength, int batchSize, bool shuffle, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (stream.Count < sequenceLength + 1)
            throw new ArgumentException($"The token stream holds {stream.Count} tokens; one window of sequence length {sequenceLength} needs {sequenceLength + 1}.", nameof(stream));
        _stream = [.. stream];
        (_length, _batchSize, _shuffle, _seed) = (sequenceLength, batchSize, shuffle, seed);
    }

    /// <summary>Windows per epoch.</summary>
    public int Windows => (_stream.Length - 1) / _length;

    /// <summary>Tokens predicted per epoch: T per window.</summary>
    public long PredictedTokens => (long)Windows * _length;

    /// <inheritdoc />
    public long BatchesPerEpoch => (Windows + _batchSize - 1) / _batchSize;

    /// <inheritdoc />
    public IEnumerable<LanguageModelBatch> Batches(int epoch)
    {
        var order = Enumerable.Range(0, Windows).ToArray();
        if (_shuffle) new Random(unchecked(_seed * 7919 + epoch)).Shuffle(order);   // the same order for the same seed in every process
        for (int start = 0; start < order.Length; start += _batchSize)
        {
            int rows = Math.Min(_batchSize, order.Length - start);
            var tokens = new long[rows * (_length + 1)];
            for (int r = 0; r < rows; r++)
                Array.Copy(_stream, (long)order[start + r] * _length, tokens, r * (_length + 1), _length + 1);
            yield return new LanguageModelBatch(HostTensor.Of(tokens, [rows, _length + 1]));
        }
    }

    /// <summary>One stream of <paramref name="documents"/> encoded by <paramref name="codec"/>, each followed by <paramref name="endOfText"/>.</summary>
    public static long[] Encode(IEnumerable<string> documents, ITokenCodec codec, long endOfText)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(codec);
        var stream = new List<long>();
        foreach (string document in documents)
        {
            stream.AddRange(codec.Encode(document));
            stream.Add(endOfText);
        }
        return [.. stream];
    }
}
