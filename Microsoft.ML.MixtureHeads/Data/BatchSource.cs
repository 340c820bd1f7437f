using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>Batches of <paramref name="batchSize"/> examples (the last one smaller), shuffled anew each epoch or in row order.</summary>
internal sealed class BatchSource<TExample, TBatch>(ExampleSource<TExample> examples, int batchSize, bool shuffle, int seed,
    Func<IReadOnlyList<TExample>, TBatch> collate) : IBatchSource<TBatch>
{
    /// <summary>The examples behind the batches.</summary>
    public ExampleSource<TExample> Examples => examples;

    /// <inheritdoc />
    public long BatchesPerEpoch => (examples.Count + batchSize - 1) / batchSize;

    /// <inheritdoc />
    public IEnumerable<TBatch> Batches(int epoch)
    {
        var stream = shuffle ? examples.Shuffled(unchecked(seed * 1_000_003 + epoch)) : examples.InOrder();
        foreach (var chunk in stream.Chunk(batchSize)) yield return collate(chunk);
    }
}
