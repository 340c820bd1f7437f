namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>One group of measurements that prints our figures next to a baseline's, all from the same run.</summary>
public interface IBenchmarkSuite
{
    /// <summary>Short name used with --suite.</summary>
    string Name { get; }

    /// <summary>Runs the measurements and returns the tables to print.</summary>
    IReadOnlyList<BenchTable> Run(BenchSettings settings);
}

/// <summary>What every suite is told: thread count and whether to run a short smoke version.</summary>
public sealed record BenchSettings(int Threads, bool Quick, string RepositoryRoot);
