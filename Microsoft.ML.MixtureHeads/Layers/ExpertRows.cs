using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>The index tensors of a <see cref="DispatchPlan"/>, on the layer's device.</summary>
internal sealed record ExpertRowIndices(Tensor SubTokenOfSlot, Tensor AssignmentOfSlot, Tensor SlotOfAssignment, Tensor PaddingSlots, long Choices, long SubTokens, long Dropped)
{
    /// <summary>Copies the plan's index arrays to <paramref name="device"/>.</summary>
    public static ExpertRowIndices Of(DispatchPlan plan, Device device) => new(
        tensor(plan.SubTokenOfSlot, device: device), tensor(plan.AssignmentOfSlot, device: device),
        tensor(plan.SlotOfAssignment, device: device), tensor(plan.PaddingSlots, device: device),
        plan.Choices, plan.SubTokens, plan.Dropped);

    /// <summary>Rows of <paramref name="source"/> at <see cref="SlotOfAssignment"/>, a zero row standing in for dropped assignments.</summary>
    public Tensor RowsOfAssignments(Tensor source) =>
        (Dropped > 0 ? cat([source, zeros(1, source.shape[1], source.dtype, source.device)], 0) : source).index_select(0, SlotOfAssignment);

    /// <summary>Rows of <paramref name="source"/> at <paramref name="index"/>, with the padding rows zeroed.</summary>
    public Tensor RowsOfSlots(Tensor source, Tensor index)
    {
        var rows = source.index_select(0, index);
        return PaddingSlots.shape[0] > 0 ? rows.index_fill_(0, PaddingSlots, Scalars.Of(0L)) : rows;
    }

    /// <summary>Keeps the indices for backward: tensors as saved variables (alive with the graph, whatever the
    /// caller's dispose scope does), sizes as data.</summary>
    public void Save(autograd.AutogradContext ctx)
    {
        ctx.save_for_backward([SubTokenOfSlot, AssignmentOfSlot, SlotOfAssignment, PaddingSlots]);
        ctx.save_data("k", Choices);
        ctx.save_data("S", SubTokens);
        ctx.save_data("dropped", Dropped);
    }

    /// <summary>The indices <see cref="Save"/> kept.</summary>
    public static ExpertRowIndices Restore(autograd.AutogradContext ctx)
    {
        var saved = ctx.get_saved_variables();
        return new(saved[0], saved[1], saved[2], saved[3], (long)ctx.get_data("k"), (long)ctx.get_data("S"), (long)ctx.get_data("dropped"));
    }
}

/// <summary>
/// Sub-tokens [S, f] -> expert buffer rows [R, f] (zero padding rows). Both directions are row gathers
/// (<c>index_select</c>): autograd's own backward of a gather is <c>index_add_</c>, which libtorch runs row by row on CPU.
/// </summary>
internal sealed class DispatchRows : autograd.SingleTensorFunction<DispatchRows>
{
    public override string Name => nameof(DispatchRows);

    public static Tensor Apply(Tensor subTokens, ExpertRowIndices indices) => apply(subTokens, indices);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (subTokens, indices) = ((Tensor)vars[0], (ExpertRowIndices)vars[1]);
        indices.Save(ctx);
        return indices.RowsOfSlots(subTokens, indices.SubTokenOfSlot);                 // [R, f]
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var indices = ExpertRowIndices.Restore(ctx);
        var perAssignment = indices.RowsOfAssignments(grad);                           // [k * S, f], choice-major
        var perSubToken = indices.Choices == 1
            ? perAssignment
            : perAssignment.view(indices.Choices, indices.SubTokens, grad.shape[1]).sum(dim: 0);   // [S, f]
        return [perSubToken, null!];
    }
}

/// <summary>Expert buffer rows [R, f] -> one row per assignment [k * S, f] (zero where dropped); backward gathers back.</summary>
internal sealed class CombineRows : autograd.SingleTensorFunction<CombineRows>
{
    public override string Name => nameof(CombineRows);

    public static Tensor Apply(Tensor bufferRows, ExpertRowIndices indices) => apply(bufferRows, indices);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (bufferRows, indices) = ((Tensor)vars[0], (ExpertRowIndices)vars[1]);
        indices.Save(ctx);
        return indices.RowsOfAssignments(bufferRows);                                  // [k * S, f]
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var indices = ExpertRowIndices.Restore(ctx);
        return [indices.RowsOfSlots(grad, indices.AssignmentOfSlot), null!];          // [R, f]
    }
}
