using Microsoft.ML.MixtureHeads.Data;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>Batch sources over arrays held by a test, through the same example source and batching as a trainer's.</summary>
internal static class InMemoryBatches
{
    /// <summary>Classification batches of <paramref name="batchSize"/> rows of pixels [rowShape] and labels.</summary>
    public static IBatchSource<ClassificationBatch> Classification(float[][] inputs, long[] labels, long[] rowShape, int batchSize, bool shuffle, int seed = 1)
    {
        var input = new PixelInput("Pixels", rowShape);
        var rows = inputs.Zip(labels).ToList();
        var examples = ExampleSource<(float[] Input, long Label)>.Create(() => rows, rows.Count, _ => 0, long.MaxValue, 0, 1);
        return new BatchSource<(float[] Input, long Label), ClassificationBatch>(examples, batchSize, shuffle, seed,
            chunk => new ClassificationBatch(input.Collate(chunk.Select(r => r.Input).ToList()), chunk.Select(r => r.Label).ToArray()));
    }

    /// <summary>Batches of any example type, collated by <paramref name="collate"/>.</summary>
    public static IBatchSource<TBatch> Of<TExample, TBatch>(IReadOnlyList<TExample> examples, int batchSize, bool shuffle, Func<IReadOnlyList<TExample>, TBatch> collate, int seed = 1)
    {
        var source = ExampleSource<TExample>.Create(() => examples, examples.Count, _ => 0, long.MaxValue, 0, 1);
        return new BatchSource<TExample, TBatch>(source, batchSize, shuffle, seed, collate);
    }
}
