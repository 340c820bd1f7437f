using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>
/// DiT's <c>TimestepEmbedder</c>: sinusoidal features of the (float) diffusion step, [cos(t f), sin(t f)] with
/// f_i = exp(-ln(10000) i / half), through <c>mlp = Sequential(Linear(freq, dim), SiLU, Linear(dim, dim))</c>.
/// The linears keep the Sequential's state-dict names <c>mlp.0</c> and <c>mlp.2</c>.
/// </summary>
public sealed class TimestepEmbedder : nn.Module<Tensor, Tensor>, IOnnxExportable<string>
{
    private const double MaxPeriod = 10000;
    private readonly ExportableLinear _first, _second;
    private readonly float[] _frequencies;

    /// <summary>Creates the embedder from <paramref name="frequencySize"/> sinusoidal features to <paramref name="dim"/>.</summary>
    public TimestepEmbedder(int dim, int frequencySize) : base(nameof(TimestepEmbedder))
    {
        if (dim < 1 || frequencySize < 2 || frequencySize % 2 != 0)
            throw new ArgumentException($"TimestepEmbedder needs dim >= 1 and an even frequency size >= 2, got {dim} and {frequencySize}.", nameof(frequencySize));
        int half = frequencySize / 2;
        // Computed in double and rounded once, so the TorchSharp forward and the ONNX constant hold the same floats.
        _frequencies = Enumerable.Range(0, half).Select(i => (float)Math.Exp(-Math.Log(MaxPeriod) * i / half)).ToArray();
        _first = new ExportableLinear(frequencySize, dim);
        _second = new ExportableLinear(dim, dim);
        register_module("mlp", new Sequence(_first, _second));
    }

    /// <summary>Holds the two linears under the names an nn.Sequential with the SiLU at index 1 gives them.</summary>
    private sealed class Sequence : nn.Module
    {
        public Sequence(ExportableLinear first, ExportableLinear second) : base("mlp")
        {
            register_module("0", first);
            register_module("2", second);
        }
    }

    /// <summary>The first linear (frequencies -> dim), state-dict <c>mlp.0</c>.</summary>
    public ExportableLinear First => _first;

    /// <summary>The second linear (dim -> dim), state-dict <c>mlp.2</c>.</summary>
    public ExportableLinear Second => _second;

    /// <summary>The sinusoidal features [B, frequencySize] of float timesteps [B].</summary>
    public Tensor Features(Tensor t)
    {
        var args = t.to_type(ScalarType.Float32).unsqueeze(1) * tensor(_frequencies, device: t.device).unsqueeze(0);   // [B, half]
        return cat([args.cos(), args.sin()], 1);                                                                       // [B, freq]
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor t) => _second.call(F.silu(_first.call(Features(t))));   // [B, dim]

    /// <inheritdoc />
    public string EmitOnnx(OnnxGraphBuilder graph, string t, string prefix)
    {
        string Name(string child) => OnnxGraphBuilder.ParameterName(prefix, child);
        var args = graph.Mul(graph.Unsqueeze(t, 1), graph.Constant(_frequencies, 1, _frequencies.Length));   // [B, half]
        var features = graph.Concat(1, graph.Cos(args), graph.Sin(args));
        return _second.EmitOnnx(graph, graph.Silu(_first.EmitOnnx(graph, features, Name("mlp.0"))), Name("mlp.2"));
    }
}
