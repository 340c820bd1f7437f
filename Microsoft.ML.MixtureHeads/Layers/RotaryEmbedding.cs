using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// Rotary position embedding (RoPE) in the rotate-half convention of LLaMA / Hugging Face: the two halves of each
/// head vector are rotated by angle position x theta^(-2i/D). No parameters; the cos/sin tables are non-persistent
/// buffers, so they follow the module across devices but never enter a state dict.
/// </summary>
public sealed class RotaryEmbedding : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    private readonly Tensor cos; // [MaxLength, HeadDim]
    private readonly Tensor sin; // [MaxLength, HeadDim]

    /// <summary>The per-head width D this embedding rotates (even).</summary>
    public int HeadDim { get; }

    /// <summary>The longest sequence the tables cover.</summary>
    public int MaxLength { get; }

    /// <summary>Builds the cos/sin tables for positions 0..<paramref name="maxLength"/>-1.</summary>
    /// <param name="headDim">Per-head width D; must be even.</param>
    /// <param name="maxLength">Longest sequence to support.</param>
    /// <param name="theta">Base of the frequencies (10000 in RoFormer and LLaMA).</param>
    public RotaryEmbedding(int headDim, int maxLength, double theta = 10000.0) : base(nameof(RotaryEmbedding))
    {
        if (headDim < 2 || headDim % 2 != 0) throw new ArgumentException($"headDim must be even and at least 2, got {headDim}.", nameof(headDim));
        if (maxLength < 1) throw new ArgumentException($"maxLength must be at least 1, got {maxLength}.", nameof(maxLength));
        if (!(theta > 1)) throw new ArgumentException($"theta must be greater than 1, got {theta}.", nameof(theta));
        HeadDim = headDim;
        MaxLength = maxLength;
        using (NewDisposeScope())
        {
            // Angles in float64, then rounded once to float32.
            var inverseFrequency = tensor(Enumerable.Range(0, headDim / 2).Select(i => Math.Pow(theta, -2.0 * i / headDim)).ToArray());   // [D/2]
            var positions = tensor(Enumerable.Range(0, maxLength).Select(p => (double)p).ToArray());                                     // [L]
            var angles = outer(positions, inverseFrequency);                                        // [L, D/2]
            var both = cat([angles, angles], 1);                                                     // [L, D]
            cos = both.cos().to(float32).MoveToOuterDisposeScope();
            sin = both.sin().to(float32).MoveToOuterDisposeScope();
        }
        register_buffer(nameof(cos), cos, persistent: false);
        register_buffer(nameof(sin), sin, persistent: false);
        RegisterComponents();
    }

    /// <summary>Rotates <paramref name="x"/> of shape [..., N, D] by positions 0..N-1.</summary>
    public override Tensor forward(Tensor x) => forward(x, 0);

    /// <summary>Rotates <paramref name="x"/> of shape [..., N, D] by positions <paramref name="offset"/> .. offset + N - 1
    /// (the new tokens of incremental decoding).</summary>
    public Tensor forward(Tensor x, long offset)
    {
        if (x.dim() < 2 || x.shape[^1] != HeadDim || offset < 0 || offset + x.shape[^2] > MaxLength)
            throw new ArgumentException(
                $"RotaryEmbedding expects [..., N, {HeadDim}] at positions {offset}.. with {offset} + N <= {MaxLength}; got [{string.Join(", ", x.shape)}].", nameof(x));
        long n = x.shape[^2];
        return (x * cos.narrow(0, offset, n)).Plus(RotateHalf(x) * sin.narrow(0, offset, n));
    }

    /// <summary>
    /// Emits <see cref="forward(TorchSharp.torch.Tensor)"/>: rotates the value <paramref name="x"/> [..., N, D] by positions 0..N-1, with N read
    /// from its shape in the graph (it may be symbolic). The cos/sin tables go in as constants, sliced to N; equal
    /// tables are stored once however many layers use them.
    /// </summary>
    /// <returns>The rotated value [..., N, D].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, string x) => EmitOnnx(graph, x, null);

    /// <summary>
    /// Emits <see cref="forward(TorchSharp.torch.Tensor, long)"/>: rotates <paramref name="x"/> [..., N, D] by positions
    /// offset .. offset + N - 1, where <paramref name="offset"/> is an int64 graph value of shape [1] (the past length of
    /// incremental decoding), or null for 0.
    /// </summary>
    /// <returns>The rotated value [..., N, D].</returns>
    public string EmitOnnx(OnnxGraphBuilder graph, string x, string? offset)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var length = graph.Shape(x, start: -2, end: -1);                                            // [1] = N
        string start = offset ?? graph.Vector(0), end = offset is null ? length : graph.Add(offset, length);
        string Table(Tensor table)
        {
            using var host = table.cpu();
            return graph.Slice(graph.Constant(host.data<float>().ToArray(), MaxLength, HeadDim), start, end, graph.Vector(0));   // [N, D]
        }
        var halves = graph.Split(x, -1, HeadDim / 2, HeadDim / 2);
        var rotatedHalf = graph.Concat(-1, graph.Neg(halves[1]), halves[0]);                        // [..., N, D]
        return graph.Add(graph.Mul(x, Table(cos)), graph.Mul(rotatedHalf, Table(sin)));
    }

    /// <summary>The same as <see cref="EmitOnnx(OnnxGraphBuilder, string)"/>: the tables are constants, not parameters, so no prefix names them.</summary>
    string IOnnxExportable<string>.EmitOnnx(OnnxGraphBuilder graph, string input, string prefix) => EmitOnnx(graph, input);

    /// <summary>
    /// Rotates rows of <paramref name="x"/> [..., M, D] that sit at arbitrary sequence <paramref name="positions"/>
    /// [..., M] (int64), e.g. queries gathered out of order.
    /// </summary>
    public Tensor Rotate(Tensor x, Tensor positions)
    {
        if (x.dim() < 2 || x.shape[^1] != HeadDim || !positions.shape.SequenceEqual(x.shape[..^1]))
            throw new ArgumentException(
                $"RotaryEmbedding.Rotate expects x [..., M, {HeadDim}] and positions [..., M]; got [{string.Join(", ", x.shape)}] and [{string.Join(", ", positions.shape)}].",
                nameof(positions));
        var flat = positions.reshape(-1);
        return (x * cos.index_select(0, flat).view(x.shape)).Plus(RotateHalf(x) * sin.index_select(0, flat).view(x.shape));
    }

    /// <summary>[x1, x2] -> [-x2, x1] over the last dimension.</summary>
    private static Tensor RotateHalf(Tensor x)
    {
        var halves = x.chunk(2, -1);
        return cat([halves[1].neg(), halves[0]], -1);
    }
}
