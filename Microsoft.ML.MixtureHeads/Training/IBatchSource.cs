namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>The batches of one data set, epoch after epoch, as host data the objective turns into tensors.</summary>
internal interface IBatchSource<out TBatch>
{
    /// <summary>Batches one epoch yields (known before the first, for the learning-rate schedule).</summary>
    long BatchesPerEpoch { get; }

    /// <summary>The batches of the 1-based <paramref name="epoch"/> (a training source shuffles them per epoch).</summary>
    IEnumerable<TBatch> Batches(int epoch);
}
