using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>A CPU copy of the best epoch's weights, by the objective's <see cref="ValidationCriterion"/>.</summary>
internal sealed class BestWeights(ValidationCriterion criterion) : IDisposable
{
    private Dictionary<string, Tensor>? _state;
    private ValidationResult? _best;

    /// <summary>The 1-based epoch whose weights are kept; 0 before any.</summary>
    public int Epoch { get; private set; }

    /// <summary>Keeps <paramref name="model"/>'s weights when <paramref name="result"/> beats the best so far.</summary>
    /// <returns>Whether it did.</returns>
    public bool Offer(nn.Module model, int epoch, ValidationResult result)
    {
        if (_best is { } best && !Better(result, best)) return false;
        Clear();
        using var scope = NewDisposeScope(); // the detached aliases go; the clones stay
        _state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().clone().DetachFromDisposeScope());
        (_best, Epoch) = (result, epoch);
        return true;
    }

    /// <summary>The best epoch's validation result, or null before any.</summary>
    public ValidationResult? Result => _best;

    /// <summary>The kept weights (CPU copies owned by this object), or null before any.</summary>
    public IReadOnlyDictionary<string, Tensor>? State => _state;

    /// <summary>Takes over <paramref name="state"/> as the best weights, from a training checkpoint.</summary>
    public void Adopt(int epoch, ValidationResult result, Dictionary<string, Tensor> state)
    {
        Clear();
        (_state, _best, Epoch) = (state, result, epoch);
    }

    public void RestoreInto(nn.Module model)
    {
        if (_state is null) return;
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            foreach (var (name, value) in model.state_dict()) value.copy_(_state[name]);
        }
    }

    public void Dispose() => Clear();

    private bool Better(ValidationResult candidate, ValidationResult best) =>
        criterion == ValidationCriterion.Accuracy && candidate.Accuracy is { } a && best.Accuracy is { } b && a != b
            ? a > b
            : candidate.Loss < best.Loss;

    private void Clear()
    {
        if (_state is null) return;
        foreach (var t in _state.Values) t.Dispose();
        _state = null;
    }
}
