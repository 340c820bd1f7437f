using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// The ONNX twin of grouped dispatch (<see cref="DispatchPlan"/>, <see cref="DispatchRows"/>, <see cref="CombineRows"/>):
/// each expert computes only the sub-tokens routed to it. The (sub-token, choice) assignments, numbered choice-major
/// as in <see cref="DispatchPlan"/>, are sorted by expert; one Gather lays their rows out expert after expert, one
/// Split (sizes counted in the graph, zero for an expert nobody chose) hands each expert its rows, and one ScatterND
/// with reduction "add" sums the gate-weighted results back into their sub-tokens.
/// </summary>
/// <remarks>
/// ONNX TopK breaks ties by the lower index, so sorting the assignments by expert keeps them in the official slot
/// order within each expert (all first choices in token order, then all second choices, ...): with a capacity C,
/// the first C rows of an expert are the ones it keeps and the rest are dropped (their results are zeros).
/// </remarks>
internal static class ExpertDispatchOnnx
{
    /// <summary>ONNX <c>TensorProto.DOUBLE</c>. Only the capacity arithmetic uses it, inside the graph: no tensor we
    /// store is double, so it is not an <see cref="OnnxElementType"/>.</summary>
    private const OnnxElementType Double = (OnnxElementType)11;

    /// <summary>Sub-tokens through their chosen experts, gate-weighted and summed per sub-token.</summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="subTokens">Sub-tokens [S, f].</param>
    /// <param name="choices">Chosen experts [S, k], int64.</param>
    /// <param name="gates">Combine weights [S, k], matching <paramref name="choices"/>.</param>
    /// <param name="experts">E.</param>
    /// <param name="capacity">Most assignments an expert keeps, int64 [1] (see <see cref="EmitCapacity"/>), or null for dropless.</param>
    /// <param name="expert">Emits expert e on rows [n, f] and returns its output [n, f].</param>
    /// <returns>[S, f]: sum over the kept choices j of gates[s, j] * expert_{choices[s, j]}(subTokens[s]).</returns>
    public static string Emit(OnnxGraphBuilder graph, string subTokens, string choices, string gates, long experts, string? capacity,
        Func<int, string, string> expert)
    {
        var expertOfAssignment = graph.Reshape(graph.Transpose(choices, 1, 0), -1);           // [A], a = j * S + s
        var gateOfAssignment = graph.Reshape(graph.Transpose(gates, 1, 0), -1, 1);             // [A, 1]
        var (_, order) = graph.TopK(expertOfAssignment, graph.Shape(expertOfAssignment), largest: false);   // [A] by expert, slot order within
        var subTokenOfRow = graph.Mod(order, graph.Shape(subTokens, start: 0, end: 1));       // [A]
        var rows = graph.Gather(subTokens, subTokenOfRow);                                     // [A, f], experts contiguous

        var isExpert = graph.Equal(graph.Unsqueeze(expertOfAssignment, 1), graph.Vector([.. Enumerable.Range(0, (int)experts).Select(e => (long)e)]));
        var routed = graph.ReduceSum(graph.Cast(isExpert, OnnxElementType.Int64), [0], keepDims: false);   // [E]
        string[] results;
        if (capacity is null)
        {
            results = graph.Split(rows, routed, axis: 0, pieces: (int)experts).Select((piece, e) => expert(e, piece)).ToArray();
        }
        else
        {
            // Each expert's rows split in two: the first min(routed, C) it computes, the rest are dropped.
            var kept = graph.Min(routed, capacity);
            var sizes = graph.Reshape(graph.Concat(1, graph.Unsqueeze(kept, 1), graph.Unsqueeze(graph.Sub(routed, kept), 1)), -1);   // [2E]
            results = graph.Split(rows, sizes, axis: 0, pieces: 2 * (int)experts)
                .Select((piece, i) => i % 2 == 0 ? expert(i / 2, piece) : graph.ConstantOfShape(graph.Shape(piece), 0f))
                .ToArray();
        }
        var weighted = graph.Mul(graph.Concat(0, results), graph.Gather(gateOfAssignment, order));   // [A, f]
        return graph.ScatterND(graph.ConstantOfShape(graph.Shape(subTokens), 0f), graph.Unsqueeze(subTokenOfRow, 1), weighted, "add");   // [S, f]
    }

    /// <summary>
    /// C = ceil(<paramref name="choicesTimesFactor"/> * ceil(S / E)) as int64 [1], with the double rounding of
    /// <see cref="MultiHeadMoE"/>'s host computation: the factor enters exactly as mantissa * 2^exponent, and
    /// scaling by powers of two commutes with rounding.
    /// </summary>
    /// <param name="graph">The graph being built.</param>
    /// <param name="subTokens">Sub-tokens [S, f].</param>
    /// <param name="experts">E.</param>
    /// <param name="choicesTimesFactor">k * capacity factor, as the host computes it (positive, finite).</param>
    public static string EmitCapacity(OnnxGraphBuilder graph, string subTokens, long experts, double choicesTimesFactor)
    {
        var perExpert = graph.Div(graph.Add(graph.Shape(subTokens, start: 0, end: 1), graph.Scalar(experts - 1)), graph.Scalar(experts));   // [1] ceil(S / E)
        var (mantissa, exponent) = Dyadic(choicesTimesFactor);
        var product = graph.Mul(graph.Cast(perExpert, Double), graph.Cast(graph.Scalar(mantissa), Double));   // exact up to the one rounding
        for (int remaining = Math.Abs(exponent); remaining > 0; remaining -= 62)
        {
            var power = graph.Cast(graph.Scalar(1L << Math.Min(remaining, 62)), Double);
            product = exponent > 0 ? graph.Mul(product, power) : graph.Div(product, power);
        }
        return graph.Cast(graph.Ceil(product), OnnxElementType.Int64);
    }

    /// <summary>value = mantissa * 2^exponent exactly, for a positive finite double (mantissa below 2^53).</summary>
    private static (long Mantissa, int Exponent) Dyadic(double value)
    {
        long bits = BitConverter.DoubleToInt64Bits(value);
        int biased = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & ((1L << 52) - 1);
        int exponent = biased == 0 ? -1074 : biased - 1075;
        if (biased != 0) mantissa |= 1L << 52;
        while ((mantissa & 1) == 0)
        {
            mantissa >>= 1;
            exponent++;
        }
        return (mantissa, exponent);
    }
}
