namespace Microsoft.ML.MixtureHeads.Data;

/// <summary>
/// Where a data set's examples come from, pass after pass. Examples that fit the memory budget are read once and kept
/// (each epoch shuffles a permutation of them: the fast path); otherwise every pass streams them from the data again
/// in row order, through a bounded shuffle pool when shuffled, so memory stays bounded whatever the row count.
/// </summary>
/// <typeparam name="TExample">One example as the batches need it (an input row and its label, ...).</typeparam>
internal sealed class ExampleSource<TExample>
{
    private readonly Func<IEnumerable<TExample>> _read;
    private readonly List<TExample>? _cache;
    private readonly int _poolSize;

    private ExampleSource(Func<IEnumerable<TExample>> read, long count, List<TExample>? cache, int poolSize)
    {
        (_read, Count, _cache, _poolSize) = (read, count, cache, poolSize);
    }

    /// <summary>Examples per pass.</summary>
    public long Count { get; }

    /// <summary>Whether the examples are held in memory (else each pass reads them from the data again).</summary>
    public bool InMemory => _cache is not null;

    /// <summary>
    /// Reads the examples into memory when they fit <paramref name="budgetBytes"/>; else sets up streaming. When the
    /// size of an example is known up front (<paramref name="bytesPerExample"/>) an oversized set is not read at all.
    /// </summary>
    /// <param name="read">One pass over the examples in row order (each call opens a new cursor).</param>
    /// <param name="count">The examples one pass yields.</param>
    /// <param name="sizeOf">Memory one kept example takes.</param>
    /// <param name="budgetBytes">The most memory the kept examples may take.</param>
    /// <param name="bytesPerExample">The size of every example when it is known without reading, else null.</param>
    /// <param name="minimumPool">The smallest shuffle pool when streaming (a few batches).</param>
    public static ExampleSource<TExample> Create(Func<IEnumerable<TExample>> read, long count, Func<TExample, long> sizeOf, long budgetBytes,
        long? bytesPerExample, int minimumPool)
    {
        ArgumentNullException.ThrowIfNull(read);
        if (bytesPerExample is not { } known || known * count <= budgetBytes)
        {
            var cache = new List<TExample>();
            long bytes = 0;
            foreach (var example in read())
            {
                bytes += sizeOf(example);
                if (bytes > budgetBytes) { cache = null; break; }
                cache.Add(example);
            }
            if (cache is not null)
            {
                if (cache.Count != count) throw new InvalidOperationException($"The data yielded {cache.Count} examples in a pass; {count} were counted before.");
                return new ExampleSource<TExample>(read, count, cache, 0);
            }
        }
        long perExample = Math.Max(1, bytesPerExample ?? budgetBytes / Math.Max(1, count));
        int pool = (int)Math.Clamp(budgetBytes / 4 / perExample, minimumPool, Math.Max(minimumPool, count));
        return new ExampleSource<TExample>(read, count, null, pool);
    }

    /// <summary>Examples already in memory.</summary>
    public static ExampleSource<TExample> FromList(List<TExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        return new ExampleSource<TExample>(() => examples, examples.Count, examples, 0);
    }

    /// <summary>One pass in row order.</summary>
    public IEnumerable<TExample> InOrder() => _cache ?? _read();

    /// <summary>One pass in an order drawn from <paramref name="seed"/>: a permutation of the kept examples, or the
    /// stream through a shuffle pool (each row leaves the pool at a random point after entering it).</summary>
    public IEnumerable<TExample> Shuffled(int seed)
    {
        var random = new Random(seed);
        if (_cache is not null)
        {
            var order = Enumerable.Range(0, _cache.Count).ToArray();
            random.Shuffle(order);
            return order.Select(i => _cache[i]);
        }
        return PoolShuffle(_read(), _poolSize, random);
    }

    private static IEnumerable<TExample> PoolShuffle(IEnumerable<TExample> stream, int poolSize, Random random)
    {
        var pool = new List<TExample>(poolSize);
        foreach (var example in stream)
        {
            if (pool.Count < poolSize) { pool.Add(example); continue; }
            int pick = random.Next(poolSize);
            yield return pool[pick];
            pool[pick] = example;
        }
        var rest = pool.ToArray();
        random.Shuffle(rest);
        foreach (var example in rest) yield return example;
    }
}
