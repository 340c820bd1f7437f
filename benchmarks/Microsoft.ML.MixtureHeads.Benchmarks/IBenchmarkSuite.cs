namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>One group of measurements that prints our figures next to a baseline's, all from the same run.</summary>
public interface IBenchmarkSuite
{
    /// <summary>Short name used with --suite.</summary>
    string Name { get; }

    /// <summary>Runs the measurements and returns the tables to print.</summary>
    IReadOnlyList<BenchTable> Run(BenchSettings settings);
}

/// <summary>What every suite is told: thread count, whether to run a short smoke version, and (for the training
/// suites) how many epochs to train instead of their default.</summary>
public sealed record BenchSettings(int Threads, bool Quick, string RepositoryRoot, int? Epochs = null);
