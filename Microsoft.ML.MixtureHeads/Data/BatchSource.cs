using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// Batches of <paramref name="batchSize"/> examples (the last one smaller), shuffled anew each epoch or in row
/// order. With a length (<paramref name="lengthOf"/>, for variable-length inputs such as texts) the examples are
/// bucketed: each window of <see cref="BucketWindow"/> batches is sorted by length and cut into batches, whose
/// order is then shuffled, so a batch holds texts of similar length and pads little.
/// </summary>
internal sealed class BatchSource<TExample, TBatch>(ExampleSource<TExample> examples, int batchSize, bool shuffle, int seed,
    Func<IReadOnlyList<TExample>, TBatch> collate, Func<TExample, int>? lengthOf = null) : IBatchSource<TBatch>
{
    /// <summary>Batches per bucketing window: wide enough to group similar lengths, narrow enough to keep the shuffle.</summary>
    public const int BucketWindow = 50;

    /// <summary>The examples behind the batches.</summary>
    public ExampleSource<TExample> Examples => examples;

    /// <inheritdoc />
    public long BatchesPerEpoch => (examples.Count + batchSize - 1) / batchSize;

    /// <inheritdoc />
    public IEnumerable<TBatch> Batches(int epoch)
    {
        int epochSeed = unchecked(seed * 1_000_003 + epoch);
        var stream = shuffle ? examples.Shuffled(epochSeed) : examples.InOrder();
        if (lengthOf is null)
        {
            foreach (var chunk in stream.Chunk(batchSize)) yield return collate(chunk);
            yield break;
        }
        var random = new Random(epochSeed);
        foreach (var window in stream.Chunk(batchSize * BucketWindow))
        {
            var batches = window.OrderBy(lengthOf).Chunk(batchSize).ToArray();
            if (shuffle) random.Shuffle(batches);
            foreach (var chunk in batches) yield return collate(chunk);
        }
    }
}
