using System.Globalization;
using System.Text.Json;
using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Suites;

/// <summary>
/// Forward + backward of MH-MoE (h = 2, 3), SMoE and fine-grained SMoE at the 2411.16205 FLOPs-parity presets, against
/// a dense SwiGLU FFN of equal FLOPs per token, with the same layers in PyTorch (benchmarks/reference/bench_moe.py)
/// measured in the same run. Target: MH-MoE at most 1.3x the dense FFN.
/// </summary>
public sealed class MoEBenchmarks : IBenchmarkSuite
{
    private const double BalanceWeight = 0.01;
    private const long Batch = 8;

    /// <inheritdoc />
    public string Name => "moe";

    /// <summary>One measured layer: its preset (null for the dense FFN) and how it reads in the table.</summary>
    private sealed record Layer(string Name, MultiHeadMoEOptions? Options, long DenseHidden, long Flops)
    {
        public string Shape => Options is null
            ? $"SwiGLU {DenseHidden}"
            : $"{Options.Experts} x {Options.ExpertHidden}, top-{Options.TopK}, h={Options.Heads}{(Options.UsesHeadProjections ? " + head/merge" : "")}";
    }

    /// <inheritdoc />
    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        long tokens = settings.Quick ? 1024 : 4096;
        int rounds = settings.Quick ? 3 : 11;
        // .NET's tiered JIT optimises a method after 30 calls, and the MoE step calls some methods once per step
        // (measured: per-step time settles after ~35 steps): warm up past that.
        int warmup = settings.Quick ? 5 : 40;
        var sizes = settings.Quick ? new (long Dim, long DMoe)[] { (96, 256) } : [(96, 256), (192, 512)];
        return sizes.Select(size => Measure(settings, size.Dim, size.DMoe, tokens, warmup, rounds)).ToList();
    }

    private static List<Layer> Layers(long dim, long dMoe)
    {
        var presets = new (string Name, MultiHeadMoEOptions Options)[]
        {
            ("SMoE", MoEPresets.SparseMoE(dim, dMoe)),
            ("Fine-grained SMoE", MoEPresets.FineGrained(dim, dMoe)),
            ("MH-MoE h=2", MoEPresets.MultiHead(dim, dMoe, 2)),
            ("MH-MoE h=3", MoEPresets.MultiHead(dim, dMoe, 3)),
        };
        long flops = MoEPresets.DenseFlopsPerToken(dim, dMoe);
        foreach (var (name, options) in presets)
            if (MoEPresets.FlopsPerToken(options) != flops)
                throw new InvalidOperationException($"{name} has {MoEPresets.FlopsPerToken(options)} FLOPs per token, the dense FFN {flops}.");
        return [new Layer("Dense SwiGLU FFN", null, dMoe, flops), .. presets.Select(p => new Layer(p.Name, p.Options, 0, flops))];
    }

    private static BenchTable Measure(BenchSettings settings, long dim, long dMoe, long tokens, int warmup, int rounds)
    {
        var layers = Layers(dim, dMoe);
        var ours = MeasureTorchSharp(layers, dim, tokens, warmup, rounds);
        var reference = PythonBaseline.Run(settings, "bench_moe.py", "--tokens", tokens.ToString(CultureInfo.InvariantCulture),
            "--warmup", warmup.ToString(CultureInfo.InvariantCulture), "--rounds", rounds.ToString(CultureInfo.InvariantCulture), "--layers", JsonSerializer.Serialize(layers.Select(l => new
            {
                name = l.Name, dim, heads = l.Options?.Heads ?? 1, experts = l.Options?.Experts ?? 0, top_k = l.Options?.TopK ?? 0,
                hidden = l.Options?.ExpertHidden ?? l.DenseHidden, head_projections = l.Options?.UsesHeadProjections ?? false,
            })));
        var torchWall = reference.GetProperty("milliseconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var torchCpu = reference.GetProperty("cpu_milliseconds").EnumerateArray().Select(e => e.GetDouble()).ToArray();

        // At one thread CPU time is the work itself, and what a busy shared machine disturbs least: ratios use it.
        bool byCpu = settings.Threads == 1;
        var table = new BenchTable($"MoE layers, d={dim}, d_moe={dMoe}: forward + backward of {tokens} tokens ([{Batch}, {tokens / Batch}, {dim}])",
            "layer", "experts x hidden", "MFLOP/token", "TorchSharp ms", "TorchSharp CPU ms", "PyTorch ms", "PyTorch CPU ms",
            $"TorchSharp / dense ({(byCpu ? "CPU" : "wall")})", $"PyTorch / dense ({(byCpu ? "CPU" : "wall")})");
        for (int i = 0; i < layers.Count; i++)
        {
            double oursRatio = byCpu ? ours[i].Cpu / ours[0].Cpu : ours[i].Wall / ours[0].Wall;
            double theirsRatio = byCpu ? torchCpu[i] / torchCpu[0] : torchWall[i] / torchWall[0];
            table.Add(layers[i].Name, layers[i].Shape, layers[i].Flops / 1e6, ours[i].Wall, ours[i].Cpu, torchWall[i], torchCpu[i],
                $"{oursRatio:F2}x", $"{theirsRatio:F2}x");
        }
        table.Notes.Add($"{settings.Threads} threads for both; medians of {rounds} interleaved rounds after {warmup} warm-up calls (wall clock, and process CPU time); objective sum(y * g) + {BalanceWeight} * balance loss; input requires grad; fp32, weights at their initialisation.");
        table.Notes.Add("FLOPs count head/merge projections and experts (router excluded), as in the 2411.16205 parity; every MoE row has the dense FFN's FLOPs.");
        table.Notes.Add($"PyTorch {reference.GetProperty("torch").GetString()} eager: router + topk, experts run one by one on index_select-ed rows, index_add_ back (the usual HF Mixtral-style loop).");
        table.Notes.Add("TorchSharp: grouped dispatch (host-side plan, gather in both directions, bmm per group of similar-load experts).");
        return table;
    }

    private static (double Wall, double Cpu)[] MeasureTorchSharp(List<Layer> layers, long dim, long tokens, int warmup, int rounds)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var x = randn(Batch, tokens / Batch, dim).requires_grad_(true);
        var upstream = randn(Batch, tokens / Batch, dim);
        var steps = layers.Select(layer =>
        {
            if (layer.Options is null)
            {
                var dense = new SwiGLU(dim, layer.DenseHidden);
                return (Action)(() =>
                {
                    using var step = NewDisposeScope();
                    (dense.forward(x) * upstream).sum().backward();
                });
            }
            var moe = new MultiHeadMoE(layer.Options);
            return () =>
            {
                using var step = NewDisposeScope();
                var result = moe.forward(x);
                ((result.Output * upstream).sum() + BalanceWeight * result.BalanceLoss!).backward();
            };
        }).ToList();
        return Stopwatches.InterleavedMedianMilliseconds(steps, warmup, rounds);
    }
}
