using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// SwiGLU feed-forward network, named as the official MH-MoE expert: <c>fc2(fc1(x) * silu(fc3(x)))</c>,
/// fc1 and fc3: dim -> hidden, fc2: hidden -> dim.
/// </summary>
/// <remarks>specs/mhmoe.md section 2 step 5. Used as the dense FFN and as every MH-MoE expert (BitLinear
/// projections when <see cref="LinearKind.BitLinear"/>; BitLinear has no bias).</remarks>
public sealed class SwiGLU : ExportableModule
{
    /// <summary>Gate input projection, dim -> hidden.</summary>
    public readonly Projection fc1;

    /// <summary>Output projection, hidden -> dim.</summary>
    public readonly Projection fc2;

    /// <summary>Projection whose SiLU gates fc1, dim -> hidden.</summary>
    public readonly Projection fc3;

    /// <summary>Input and output feature count.</summary>
    public long Dim { get; }

    /// <summary>Hidden feature count.</summary>
    public long Hidden { get; }

    /// <summary>The kind of the three projections.</summary>
    public LinearKind Kind { get; }

    /// <summary>Creates the FFN.</summary>
    /// <param name="dim">Input and output features.</param>
    /// <param name="hidden">Hidden features.</param>
    /// <param name="kind">Dense or BitLinear projections.</param>
    /// <param name="bias">Whether dense projections carry a bias (the official run.sh uses none).</param>
    public SwiGLU(long dim, long hidden, LinearKind kind = LinearKind.Dense, bool bias = false) : base(nameof(SwiGLU))
    {
        if (dim < 1) throw new ArgumentException($"dim must be at least 1, got {dim}.", nameof(dim));
        if (hidden < 1) throw new ArgumentException($"hidden must be at least 1, got {hidden}.", nameof(hidden));
        Dim = dim;
        Hidden = hidden;
        Kind = kind;
        fc1 = Projections.Create(kind, dim, hidden, bias);
        fc2 = Projections.Create(kind, hidden, dim, bias);
        fc3 = Projections.Create(kind, dim, hidden, bias);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        // x: [..., dim] -> [..., dim]
        if (x.dim() < 1 || x.shape[^1] != Dim)
            throw new ArgumentException($"SwiGLU expects input [..., {Dim}], got [{string.Join(", ", x.shape)}].", nameof(x));
        return fc2.call(fc1.call(x) * F.silu(fc3.call(x)));
    }

    /// <summary>
    /// <see cref="forward"/> of several bias-free experts at once: slice i of <paramref name="x"/> goes through
    /// <paramref name="experts"/>[i]. Their weights are stacked for this call (autograd hands each expert its own
    /// gradient), so the experts keep their one-module-each parameter names.
    /// </summary>
    /// <param name="experts">Experts of the same shape and kind, without bias.</param>
    /// <param name="x">[n, rows, dim], slice i for expert i.</param>
    /// <returns>[n, rows, dim].</returns>
    internal static Tensor ForwardStacked(IReadOnlyList<SwiGLU> experts, Tensor x)
    {
        // Stacking the weights per call costs one copy of them; separate fc1 and fc3 bmms measured faster than one
        // fused bmm over [fc1; fc3] (whose chunk backward adds a cat).
        Tensor Stack(Func<SwiGLU, Projection> projection) => stack(experts.Select(e => (Tensor)projection(e).Weight).ToList());
        Tensor w1 = Stack(e => e.fc1), w3 = Stack(e => e.fc3);          // [n, hidden, dim]
        Tensor w2 = Stack(e => e.fc2);                                     // [n, dim, hidden]
        bool bit = experts[0].Kind == LinearKind.BitLinear;
        if (bit)
        {
            // Per row and per matrix, exactly as each expert's BitLinear would quantise; fc1 and fc3 share an input.
            x = BitLinear.StraightThrough(x, BitLinear.QuantizeActivations);
            w1 = BitLinear.StraightThrough(w1, BitLinear.QuantizeWeights);
            w3 = BitLinear.StraightThrough(w3, BitLinear.QuantizeWeights);
            w2 = BitLinear.StraightThrough(w2, BitLinear.QuantizeWeights);
        }
        var hidden = MixedPrecision.Bmm(x, w1.transpose(1, 2)) * F.silu(MixedPrecision.Bmm(x, w3.transpose(1, 2)));   // [n, rows, hidden]
        if (bit) hidden = BitLinear.StraightThrough(hidden, BitLinear.QuantizeActivations);
        return MixedPrecision.Bmm(hidden, w2.transpose(1, 2));                           // [n, rows, dim]
    }

    /// <summary>Emits <c>fc2(fc1(x) * silu(fc3(x)))</c>; <paramref name="prefix"/> is this module's state-dict path.</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, string x, string prefix)
    {
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        string gated = graph.Mul(fc1.EmitOnnx(graph, x, Name("fc1")), graph.Silu(fc3.EmitOnnx(graph, x, Name("fc3"))));
        return fc2.EmitOnnx(graph, gated, Name("fc2"));
    }
}
