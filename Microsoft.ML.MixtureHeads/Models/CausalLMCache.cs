using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The keys and values a <see cref="MoHCausalLM"/> has seen so far, one <see cref="KeyValueCache"/> per block, for
/// incremental decoding: each <see cref="MoHCausalLM.forward(TorchSharp.torch.Tensor, CausalLMCache)"/> call reads the
/// new tokens at positions <see cref="Length"/> onwards and appends them. Holds native memory until disposed.
/// </summary>
public sealed class CausalLMCache : IDisposable
{
    private readonly KeyValueCache[] _layers;

    /// <summary>An empty cache for a model of <paramref name="layers"/> blocks.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layers"/> is below 1.</exception>
    public CausalLMCache(int layers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        _layers = Enumerable.Range(0, layers).Select(_ => new KeyValueCache()).ToArray();
    }

    /// <summary>One cache per block, in block order.</summary>
    public IReadOnlyList<KeyValueCache> Layers => _layers;

    /// <summary>Positions cached so far: the position of the next token.</summary>
    public long Length => _layers[0].Length;

    /// <summary>Forgets every cached position (a new sequence starts at position 0).</summary>
    public void Clear()
    {
        foreach (var layer in _layers) layer.Clear();
    }

    /// <inheritdoc />
    public void Dispose() => Clear();
}
