using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// Sets libtorch's intra-op thread count for a scope and restores the previous count when disposed. A count equal to the
/// current one changes nothing: libtorch's <c>set_num_threads</c> also reconfigures its bundled MKL, which once measured
/// 1.3-1.4x slower training afterwards (docs/decisions.md).
/// </summary>
internal sealed class LibTorchThreads : IDisposable
{
    private readonly int _previous;

    private LibTorchThreads(int threads)
    {
        _previous = get_num_threads();
        set_num_threads(threads);
    }

    /// <summary>A scope with <paramref name="threads"/> threads, or a no-op scope for null or the current count.</summary>
    public static IDisposable Use(int? threads) => threads is int count && count != get_num_threads() ? new LibTorchThreads(count) : NoScope.Instance;

    public void Dispose() => set_num_threads(_previous);

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose() { }
    }
}
