using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Suites;

/// <summary>
/// Inference of one MoE layer in ONNX Runtime: <see cref="MultiHeadMoE.EmitOnnx"/> (sparse dispatch: each expert on
/// its routed sub-tokens only) against two dense formulations written out here, which compute every expert on every
/// sub-token and weight the results by a dense [S, E] gate matrix: one expert subgraph after another, and all experts
/// in three batched MatMuls over stacked weights (dense experts only). Decides which form EmitOnnx emits.
/// </summary>
public sealed class MoEOnnxBenchmarks : IBenchmarkSuite
{
    private static readonly (string Name, MultiHeadMoEOptions Options)[] Layers =
    [
        ("registered *_mhmoe", new() { Dim = 128, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96 }),
        ("registered *_bitnet experts", new() { Dim = 128, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 96, ExpertLinear = LinearKind.BitLinear }),
        ("SMoE", MoEPresets.SparseMoE(96, 256)),
        ("fine-grained SMoE", MoEPresets.FineGrained(96, 256)),
        ("MH-MoE h=3, 16 experts", new() { Dim = 96, Heads = 3, Experts = 16, TopK = 3, ExpertHidden = 64 }),
    ];

    /// <inheritdoc />
    public string Name => "moe-onnx";

    /// <inheritdoc />
    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        var shapes = settings.Quick ? new (long Batch, long Tokens)[] { (4, 64) } : [(1, 64), (16, 64), (64, 64)];
        int warmup = settings.Quick ? 2 : 5, rounds = settings.Quick ? 5 : 21;
        var table = new BenchTable("MoE layer inference in ONNX Runtime (ms per call, median)",
            "layer", "experts x hidden, top-k", "tokens", "sparse (EmitOnnx)", "dense, expert by expert", "dense, stacked experts",
            "dense best / sparse", "max |dense - sparse|");
        // Errors only: ONNX Runtime warns about every latent BitLinear weight and every folded stacked weight it drops.
        using var options = new SessionOptions { IntraOpNumThreads = settings.Threads, InterOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        foreach (var (name, moeOptions) in Layers)
        {
            using var scope = NewDisposeScope();
            manual_seed(1);
            var layer = new MultiHeadMoE(moeOptions);
            layer.eval();
            using var sparse = new OnnxSession(Graph(layer, (g, x) => layer.EmitOnnx(g, new OnnxSequenceInput(x), "moe")), options);
            using var dense = new OnnxSession(Graph(layer, (g, x) => EmitDense(layer, g, x, stacked: false)), options);
            using var stacked = moeOptions.ExpertLinear == LinearKind.Dense
                ? new OnnxSession(Graph(layer, (g, x) => EmitDense(layer, g, x, stacked: true)), options)
                : null;
            foreach (var (batch, tokens) in shapes)
            {
                var x = randn(batch, tokens, moeOptions.Dim);
                var sessions = new[] { sparse, dense, stacked }.OfType<OnnxSession>().ToList();
                var timings = Stopwatches.InterleavedMedianMilliseconds(
                    sessions.Select(s => (Action)(() => { using var step = NewDisposeScope(); s.Run(("x", x)); })).ToList(), warmup, rounds);
                double difference = sessions.Skip(1).Max(s => (s.Run(("x", x))["y"] - sparse.Run(("x", x))["y"]).abs().max().item<float>());
                double denseBest = timings.Skip(1).Min(t => t.Wall);
                table.Add(name, $"{moeOptions.Experts} x {moeOptions.ExpertHidden}, top-{moeOptions.TopK}, h={moeOptions.Heads}",
                    batch * tokens, timings[0].Wall, timings[1].Wall, stacked is null ? "-" : timings[2].Wall,
                    $"{denseBest / timings[0].Wall:F2}x", difference.ToString("g2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        table.Notes.Add($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {settings.Threads} intra-op thread(s), all graph optimisations; " +
                        $"medians of {rounds} interleaved rounds after {warmup} warm-up calls, wall clock per session.Run on [B, 64, d] fp32 (input copy included).");
        table.Notes.Add("Layers at their initialisation (balanced-ish routing), dropless. Stacked: expert weights concatenated in the graph (folded at load) " +
                        "and one broadcasting MatMul per projection; not applicable to BitLinear experts, whose quantisation is per matrix.");
        return [table];
    }

    private static byte[] Graph(MultiHeadMoE layer, Func<OnnxGraphBuilder, string, string> emit)
    {
        var graph = new OnnxGraphBuilder();
        string x = graph.Input("x", OnnxElementType.Float, "batch", "tokens", layer.Options.Dim);
        graph.Output(emit(graph, x), "y", OnnxElementType.Float, "batch", "tokens", layer.Options.Dim);
        return graph.ToBytes();
    }

    /// <summary>The measured alternative: every expert on every sub-token, weighted by the dense gate matrix (0 where not chosen).</summary>
    private static string EmitDense(MultiHeadMoE layer, OnnxGraphBuilder graph, string x, bool stacked)
    {
        var o = layer.Options;
        var tokenRows = graph.Reshape(x, -1, o.Dim);
        if (layer.multi_heads is not null) tokenRows = layer.multi_heads.EmitOnnx(graph, tokenRows, "moe.multi_heads");
        var sub = graph.Reshape(tokenRows, -1, o.SubTokenDim);                                       // [S, f]
        var probs = graph.Softmax(layer.wg.EmitOnnx(graph, sub, "moe.wg"), axis: -1);                  // [S, E]
        var (gates, choices) = graph.TopK(probs, o.TopK);
        var weights = graph.ScatterElements(graph.ConstantOfShape(graph.Shape(probs), 0f), choices, gates, axis: 1);   // [S, E]

        string outputs;                                                                              // [E, S, f]
        if (stacked)
        {
            string Stack(Func<SwiGLU, Projection> projection, string name) => graph.Concat(0, layer.experts
                .Select((e, i) => graph.Unsqueeze(graph.Transpose(graph.Initializer($"moe.experts.{i}.{name}.weight", projection(e).Weight), 1, 0), 0))
                .ToArray());
            var hidden = graph.Mul(graph.MatMul(sub, Stack(e => e.fc1, "fc1")), graph.Silu(graph.MatMul(sub, Stack(e => e.fc3, "fc3"))));   // [E, S, hidden]
            outputs = graph.MatMul(hidden, Stack(e => e.fc2, "fc2"));
        }
        else
        {
            outputs = graph.Concat(0, layer.experts.Select((e, i) => graph.Unsqueeze(e.EmitOnnx(graph, sub, $"moe.experts.{i}"), 0)).ToArray());
        }
        var combined = graph.ReduceSum(graph.Mul(outputs, graph.Unsqueeze(graph.Transpose(weights, 1, 0), -1)), [0], keepDims: false);   // [S, f]
        var merged = graph.Reshape(combined, -1, o.Dim);
        if (layer.out_proj is not null) merged = layer.out_proj.EmitOnnx(graph, merged, "moe.out_proj");
        return graph.Reshape(merged, graph.Shape(x));
    }
}
