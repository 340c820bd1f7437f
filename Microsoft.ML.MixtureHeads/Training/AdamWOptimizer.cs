using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter, decoupled weight decay): the update <c>torch.optim.AdamW</c> makes with amsgrad off.
/// </summary>
/// <remarks>
/// Ours rather than TorchSharp's because TorchSharp 0.107 passes temporary <see cref="TorchSharp.Scalar"/> objects
/// (every <c>alpha</c>, <c>value</c> and <c>eps</c>) to native code without keeping them reachable: a garbage collection
/// started by another thread can finalize one in the middle of the call, which surfaced as a libtorch "toFloat" error in
/// a parallel test run and could as well be a silently wrong update. Here the constants come from
/// <see cref="Layers.Scalars"/> and the per-step values are disposed only after the step, so each stays alive through
/// every native call.
/// </remarks>
internal sealed class AdamWOptimizer : IDisposable
{
    /// <summary>Parameters that share a weight decay.</summary>
    public sealed record Group(IReadOnlyList<Parameter> Parameters, double WeightDecay);

    /// <summary>A parameter, its moment estimates and how many updates it has had (only steps that reached it count, as in PyTorch).</summary>
    internal sealed class Slot(Parameter parameter)
    {
        public Parameter Parameter { get; } = parameter;
        public Tensor Average { get; } = zeros_like(parameter).DetachFromDisposeScope();
        public Tensor SquaredAverage { get; } = zeros_like(parameter).DetachFromDisposeScope();
        public long Steps { get; set; }
    }

    private readonly (Slot[] Slots, double WeightDecay)[] _groups;
    private readonly double _beta1, _beta2, _epsilon;

    public AdamWOptimizer(IEnumerable<Group> groups, double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8)
    {
        (_beta1, _beta2, _epsilon) = (beta1, beta2, epsilon);
        using var noGrad = no_grad();
        _groups = groups.Select(g => (g.Parameters.Select(p => new Slot(p)).ToArray(), g.WeightDecay)).ToArray();
    }

    /// <summary>Every parameter's state, in a fixed order (the groups' order, then the parameters'), for checkpoints.</summary>
    public IReadOnlyList<Slot> Slots => _groups.SelectMany(g => g.Slots).ToArray();

    /// <summary>Clears every gradient (sets it to none), as <c>optimizer.zero_grad()</c> does.</summary>
    public void ZeroGrad()
    {
        foreach (var slot in _groups.SelectMany(g => g.Slots)) slot.Parameter.grad = null;
    }

    /// <summary>One update of every parameter that has a gradient, at <paramref name="learningRate"/>.</summary>
    public void Step(double learningRate)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Scalar one = Scalars.Of(1L), beta1 = Scalars.Of(_beta1), oneMinusBeta1 = Scalars.Of(1 - _beta1),
            beta2 = Scalars.Of(_beta2), oneMinusBeta2 = Scalars.Of(1 - _beta2), epsilon = Scalars.Of(_epsilon);
        foreach (var (slots, weightDecay) in _groups)
        {
            // Values that change every step are not cached; `using` keeps each alive until the step is done.
            using var shrink = (1 - learningRate * weightDecay).ToScalar();
            foreach (var slot in slots)
            {
                var (p, m, v) = (slot.Parameter, slot.Average, slot.SquaredAverage);
                var grad = p.grad;
                if (grad is null) continue;
                long t = ++slot.Steps;
                using var inverseRootCorrection2 = (1 / Math.Sqrt(1 - Math.Pow(_beta2, t))).ToScalar();
                using var negativeStepSize = (-learningRate / (1 - Math.Pow(_beta1, t))).ToScalar();
                if (weightDecay != 0) p.mul_(shrink);                                       // p ← p (1 − lr λ)
                m.mul_(beta1).add_(grad, oneMinusBeta1);                                    // m ← β1 m + (1 − β1) g
                v.mul_(beta2).addcmul_(grad, grad, oneMinusBeta2);                          // v ← β2 v + (1 − β2) g²
                var denominator = v.sqrt().mul_(inverseRootCorrection2).add_(epsilon, one); // √(v / (1 − β2ᵗ)) + ε
                p.addcdiv_(m, denominator, negativeStepSize);                               // p ← p − lr / (1 − β1ᵗ) · m / denominator
            }
        }
    }

    public void Dispose()
    {
        foreach (var slot in _groups.SelectMany(g => g.Slots))
        {
            slot.Average.Dispose();
            slot.SquaredAverage.Dispose();
        }
    }
}
