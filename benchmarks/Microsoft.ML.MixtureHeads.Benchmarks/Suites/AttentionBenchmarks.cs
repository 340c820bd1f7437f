using System.Text.Json;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// Forward inference of one attention layer (C=512, H=8, D=64, 4096 tokens per call): dense MHA, MoH computed the
/// official way (every head, then gates) and MoH with head skipping, next to the same dense MHA and masked MoH in
/// PyTorch (benchmarks/reference/bench_attention.py), on this machine with the same thread count; then the same
/// three as deployed, the layer's ONNX emission in ONNX Runtime.
/// </summary>
public sealed class AttentionBenchmarks : IBenchmarkSuite
{
    private const int Dim = 512, Heads = 8;
    private static readonly (long Tokens, long Batch)[] Shapes = [(64, 64), (256, 16), (1024, 4)];
    private static readonly (int Shared, int TopK)[] Splits = [(2, 2), (2, 4)];   // 4 or 6 of 8 heads per token

    public string Name => "attention";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        int warmup = settings.Quick ? 1 : 2, iterations = settings.Quick ? 3 : 11;
        var shapes = settings.Quick ? Shapes[^1..] : Shapes;
        var baseline = PythonBaseline.Run(settings, "bench_attention.py");

        var table = new BenchTable("MoH attention forward, inference (ms per call, median)",
            "T", "B", "active heads", "dense MHA", "MoH masked", "MoH skipping", "skip speedup", "max abs diff skip vs masked",
            "PyTorch dense MHA", "PyTorch MoH masked");
        using var noGrad = no_grad();
        manual_seed(0);
        var dense = new MoHAttention(new MoHAttentionOptions { Dim = Dim, Heads = Heads });
        dense.eval();
        foreach (var (tokens, batch) in shapes)
        {
            using var scope = NewDisposeScope();
            var x = randn(batch, tokens, Dim);
            double denseMs = Time(() => dense.forward(new AttentionInput(x)), warmup, iterations);
            foreach (var (shared, topK) in Splits)
            {
                var moh = new MoHAttention(new MoHAttentionOptions
                {
                    Dim = Dim, Heads = Heads, SharedHeads = shared, RoutedTopK = topK, Routing = HeadRouting.Learned,
                });
                moh.eval();
                var skipping = new MoHAttention(moh.Options) { SkipInactiveHeads = true };
                skipping.load_state_dict(moh.state_dict());
                skipping.eval();
                double difference = (skipping.forward(new AttentionInput(x)).Output - moh.forward(new AttentionInput(x)).Output).abs().max().item<float>();
                var (maskedMs, skippingMs) = TimeInterleaved(() => moh.forward(new AttentionInput(x)), () => skipping.forward(new AttentionInput(x)), warmup, iterations);
                var reference = Find(baseline, tokens, shared, topK);
                table.Add(tokens, batch, $"{(shared + topK) * 100 / Heads}% (h_s={shared}, K={topK} of {Heads - shared})",
                    denseMs, maskedMs, skippingMs, $"{maskedMs / skippingMs:F2}x", difference.ToString("g2", System.Globalization.CultureInfo.InvariantCulture),
                    reference.GetProperty("dense_ms").GetDouble(), reference.GetProperty("moh_masked_ms").GetDouble());
            }
        }
        table.Notes.Add($"C={Dim}, H={Heads}, D=64, batch chosen so every call holds 4096 tokens; learned routers at ViT init (trunc normal 0.02); " +
                        $"no key padding, not causal; {settings.Threads} thread(s) for TorchSharp and PyTorch alike.");
        table.Notes.Add("MoH masked = the official computation (all heads, gates multiply the head outputs); skipping = SkipInactiveHeads: " +
                        "only the selected (token, head) queries, attention rows and output-projection rows (K/V of every token kept).");
        table.Notes.Add($"PyTorch baseline: torch {baseline.GetProperty("torch").GetString()} from Debian, no fused attention kernel " +
                        "(attention written out as in the official code); its BLAS differs from libtorch 2.10's, so compare within a column family.");
        table.Notes.Add("Target: skipping >= 1.5x faster than masked at T = 1024 with 50% of heads active.");
        return [table, Deployed(settings, shapes, warmup, iterations)];
    }

    /// <summary>The same layers through <see cref="MoHAttention.EmitOnnx"/> in ONNX Runtime: what a saved model runs.</summary>
    private static BenchTable Deployed(BenchSettings settings, (long Tokens, long Batch)[] shapes, int warmup, int iterations)
    {
        var table = new BenchTable("MoH attention forward, deployed: the layer's ONNX graph in ONNX Runtime (ms per call, median)",
            "T", "B", "active heads", "dense MHA", "MoH masked", "MoH skipping", "skip speedup", "max abs diff skip vs masked");
        using var sessionOptions = new SessionOptions { IntraOpNumThreads = settings.Threads, InterOpNumThreads = 1, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var noGrad = no_grad();
        manual_seed(0);
        using var dense = new OnnxSession(Graph(new MoHAttention(new MoHAttentionOptions { Dim = Dim, Heads = Heads })), sessionOptions);
        var layers = Splits.Select(split => new MoHAttention(new MoHAttentionOptions
        {
            Dim = Dim, Heads = Heads, SharedHeads = split.Shared, RoutedTopK = split.TopK, Routing = HeadRouting.Learned,
        })).ToList();
        var masked = layers.Select(layer => new OnnxSession(Graph(layer), sessionOptions)).ToList();
        foreach (var layer in layers) layer.SkipInactiveHeads = true;
        var skipping = layers.Select(layer => new OnnxSession(Graph(layer), sessionOptions)).ToList();
        foreach (var (tokens, batch) in shapes)
        {
            using var scope = NewDisposeScope();
            var x = randn(batch, tokens, Dim);
            for (int i = 0; i < layers.Count; i++)
            {
                Action Call(OnnxSession session) => () => { using var step = NewDisposeScope(); session.Run(("x", x)); };
                var timings = Stopwatches.InterleavedMedianMilliseconds([Call(dense), Call(masked[i]), Call(skipping[i])], warmup, iterations);
                double difference = (skipping[i].Run(("x", x))["y"] - masked[i].Run(("x", x))["y"]).abs().max().item<float>();
                var (shared, topK) = Splits[i];
                table.Add(tokens, batch, $"{(shared + topK) * 100 / Heads}% (h_s={shared}, K={topK} of {Heads - shared})",
                    timings[0].Wall, timings[1].Wall, timings[2].Wall, $"{timings[1].Wall / timings[2].Wall:F2}x",
                    difference.ToString("g2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        foreach (var session in masked.Concat(skipping)) session.Dispose();
        table.Notes.Add($"ONNX Runtime {OrtEnv.Instance().GetVersionString()} CPU, {settings.Threads} intra-op thread(s), all graph optimisations; " +
                        "medians of interleaved rounds, wall clock per session.Run (input copy included). Skipping = SkipInactiveHeads set before export: " +
                        "routed heads attend and go through proj only for their gathered query rows; the qkv projection stays dense. " +
                        "EmitOnnx falls back to the masked graph above K/E = 1/2, so the 75% rows time the same graph twice.");
        return table;
    }

    private static byte[] Graph(MoHAttention layer)
    {
        layer.eval();
        var graph = new OnnxGraphBuilder();
        string x = graph.Input("x", OnnxElementType.Float, "batch", "tokens", Dim);
        graph.Output(layer.EmitOnnx(graph, new OnnxSequenceInput(x), "attn"), "y", OnnxElementType.Float, "batch", "tokens", Dim);
        return graph.ToBytes();
    }

    private static double Time(Action forward, int warmup, int iterations) =>
        Stopwatches.MedianMilliseconds(() => { using var scope = NewDisposeScope(); forward(); }, warmup, iterations);

    /// <summary>Medians of two calls timed in alternation, so load from other processes falls on both alike.</summary>
    private static (double First, double Second) TimeInterleaved(Action first, Action second, int warmup, int iterations)
    {
        var samples = (First: new double[iterations], Second: new double[iterations]);
        for (int i = -warmup; i < iterations; i++)
        {
            double a = Time(first, 0, 1), b = Time(second, 0, 1);
            if (i >= 0) (samples.First[i], samples.Second[i]) = (a, b);
        }
        Array.Sort(samples.First);
        Array.Sort(samples.Second);
        return (samples.First[iterations / 2], samples.Second[iterations / 2]);
    }

    private static JsonElement Find(JsonElement baseline, long tokens, int shared, int topK) =>
        baseline.GetProperty("results").EnumerateArray().First(r =>
            r.GetProperty("tokens").GetInt64() == tokens && r.GetProperty("shared").GetInt32() == shared && r.GetProperty("top_k").GetInt32() == topK);
}
