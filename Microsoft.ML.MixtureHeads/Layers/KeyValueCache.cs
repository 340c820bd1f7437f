using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// One attention layer's keys and values of the positions seen so far, for incremental (causal) decoding: each call
/// appends the new tokens' keys and values (after rotary) and attends the new queries to all of them. The tensors
/// live outside every dispose scope until the cache is disposed or <see cref="Clear"/>ed.
/// </summary>
public sealed class KeyValueCache : IDisposable
{
    private Tensor? _keys, _values, _keyMask;

    /// <summary>Cached keys [B, H, P, D], or null when empty.</summary>
    public Tensor? Keys => _keys;

    /// <summary>Cached values [B, H, P, D], or null when empty.</summary>
    public Tensor? Values => _values;

    /// <summary>Which cached positions are real tokens [B, P] (null: all of them).</summary>
    public Tensor? KeyMask => _keyMask;

    /// <summary>P, the positions cached so far (the position of the next token).</summary>
    public long Length => _keys?.shape[2] ?? 0;

    /// <summary>
    /// Appends the new keys and values [B, H, N, D] (and their padding mask [B, N], or null for all real) and returns
    /// everything cached: keys and values [B, H, P + N, D] and the key mask [B, P + N] (null when all are real).
    /// </summary>
    /// <exception cref="ArgumentException">The new entries do not fit the cached ones (batch, heads or width).</exception>
    public (Tensor Keys, Tensor Values, Tensor? KeyMask) Append(Tensor keys, Tensor values, Tensor? keyMask)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (_keys is { } old && (old.shape[0] != keys.shape[0] || old.shape[1] != keys.shape[1] || old.shape[3] != keys.shape[3]))
            throw new ArgumentException(
                $"The cache holds keys [{string.Join(", ", old.shape)}]; new keys [{string.Join(", ", keys.shape)}] differ in batch, heads or width.", nameof(keys));
        long batch = keys.shape[0], past = Length, added = keys.shape[2];
        using (NewDisposeScope())
        {
            var allKeys = _keys is null ? keys.detach().clone() : cat([_keys, keys.detach()], 2);
            var allValues = _values is null ? values.detach().clone() : cat([_values, values.detach()], 2);
            Tensor? allMask = null;
            if (keyMask is not null || _keyMask is not null)
            {
                var pastMask = _keyMask ?? ones(batch, past, ScalarType.Bool, keys.device);
                var newMask = keyMask ?? ones(batch, added, ScalarType.Bool, keys.device);
                allMask = cat([pastMask, newMask], 1);
            }
            Replace(allKeys.DetachFromDisposeScope(), allValues.DetachFromDisposeScope(), allMask?.DetachFromDisposeScope());
        }
        return (_keys!, _values!, _keyMask);
    }

    /// <summary>Forgets every cached position.</summary>
    public void Clear() => Replace(null, null, null);

    /// <inheritdoc />
    public void Dispose() => Clear();

    private void Replace(Tensor? keys, Tensor? values, Tensor? keyMask)
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keyMask?.Dispose();
        (_keys, _values, _keyMask) = (keys, values, keyMask);
    }
}
