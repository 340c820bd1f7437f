using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>Sets libtorch's intra-op thread count for a scope and restores the previous count when disposed.</summary>
internal sealed class LibTorchThreads : IDisposable
{
    private readonly int _previous;

    private LibTorchThreads(int threads)
    {
        _previous = get_num_threads();
        set_num_threads(threads);
    }

    /// <summary>A scope with <paramref name="threads"/> threads, or a no-op scope for null.</summary>
    public static IDisposable Use(int? threads) => threads is int count ? new LibTorchThreads(count) : NoScope.Instance;

    public void Dispose() => set_num_threads(_previous);

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose() { }
    }
}
