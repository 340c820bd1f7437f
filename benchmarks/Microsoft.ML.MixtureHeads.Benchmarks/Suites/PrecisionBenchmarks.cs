using System.Diagnostics;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>
/// bf16 mixed precision against fp32 on this CPU: GEMM throughput of each and where the moh_vit_tiny_75 training step
/// spends its time in each, interleaved so load lands on both (<c>--suite precision</c> also runs precision-fit).
/// </summary>
public sealed class PrecisionBenchmarks : IBenchmarkSuite
{
    internal static readonly (string Name, ScalarType? Compute)[] Precisions = [("fp32", null), ("bf16", ScalarType.BFloat16)];

    public string Name => "precision-step";

    public IReadOnlyList<BenchTable> Run(BenchSettings settings) => [Gemm(settings), Ops(settings), Step(settings)];

    /// <summary>GFLOP/s of a square mm and of a ViT-shaped linear (batch 128 x 49 tokens, d 192 -> 576), each precision.</summary>
    private static BenchTable Gemm(BenchSettings settings)
    {
        var table = new BenchTable($"GEMM throughput, {settings.Threads} thread(s) (GFLOP/s, median)", "shape", "fp32", "bf16", "bf16 / fp32");
        using var scope = NewDisposeScope();
        manual_seed(0);
        foreach (var (name, m, k, n) in new[] { ("mm 1024 x 1024 x 1024", 1024L, 1024L, 1024L), ("linear [6272, 192] x [192, 576]", 6272L, 192L, 576L) })
        {
            var a = randn(m, k);
            var b = randn(n, k);
            double[] gflops = Precisions.Select(p =>
            {
                var (x, w) = p.Compute is ScalarType c ? (a.to(c), b.to(c)) : (a, b);
                double ms = Stopwatches.MedianMilliseconds(() => { using var s = NewDisposeScope(); F.linear(x, w); }, warmup: 2, iterations: settings.Quick ? 5 : 15);
                return 2.0 * m * k * n / (ms * 1e6);
            }).ToArray();
            table.Add(name, gflops[0], gflops[1], $"{gflops[1] / gflops[0]:F2}x");
        }
        return table;
    }

    /// <summary>Forward + backward of the step's two kinds of products, fp32 and cast to bf16 and back (why attention stays fp32).</summary>
    private static BenchTable Ops(BenchSettings settings)
    {
        var table = new BenchTable($"Forward + backward of one op, ViT-tiny shapes at batch 128, {settings.Threads} thread(s) (ms, median)", "op", "fp32", "bf16", "bf16 / fp32");
        using var scope = NewDisposeScope();
        manual_seed(0);
        var (x, w, b) = (randn(6272, 192).requires_grad_(true), randn(576, 192).requires_grad_(true), randn(576).requires_grad_(true));
        var (q, k, v) = (randn(128, 3, 49, 64).requires_grad_(true), randn(128, 3, 49, 64).requires_grad_(true), randn(128, 3, 49, 64).requires_grad_(true));
        var bf16 = ScalarType.BFloat16;
        double Time(Func<Tensor> op) =>
            Stopwatches.MedianMilliseconds(() => { using var s = NewDisposeScope(); op().sum().backward(); }, warmup: 2, iterations: settings.Quick ? 3 : 9);
        void Add(string name, Func<Tensor> fp32, Func<Tensor> lowered)
        {
            double f = Time(fp32), l = Time(lowered);
            table.Add(name, f, l, $"{l / f:F2}x");
        }
        Add("linear [6272, 192] -> 576 (MixedPrecision.Linear)", () => F.linear(x, w, b), () => { using var p = MixedPrecision.Use(bf16); return MixedPrecision.Linear(x, w, b); });
        Add("scaled_dot_product_attention [128, 3, 49, 64]", () => F.scaled_dot_product_attention(q, k, v),
            () => F.scaled_dot_product_attention(q.to(bf16), k.to(bf16), v.to(bf16)).to(ScalarType.Float32));
        table.Notes.Add("bf16 columns include the casts to bf16 and back, as training pays them.");
        return table;
    }

    /// <summary>Where a moh_vit_tiny_75 training step on a batch of 128 spends its time in each precision, interleaved:
    /// forward alone, forward + backward, and the whole step (AdamW is the difference).</summary>
    private static BenchTable Step(BenchSettings settings)
    {
        var table = new BenchTable($"moh_vit_tiny_75 training step, batch 128, {settings.Threads} thread(s) (ms, median of interleaved rounds)",
            "precision", "forward", "backward", "AdamW + zero_grad", "step", "images/s", "step vs fp32", "step CPU ms", "CPU vs fp32");
        manual_seed(0);
        using var scope = NewDisposeScope();
        var images = rand(128, 1, 28, 28) * 255;
        var labels = randint(0, 10, [128]);
        var config = ModelRegistry.Get<VisionTransformerConfig>("moh_vit_tiny_75");
        using var network = new MoHVisionTransformer(config);
        using var optimizer = new AdamWOptimizer([new(network.parameters().ToList(), WeightDecay: 0.05)]);
        network.train();
        Action Timed(ScalarType? compute, bool backward, bool update) => () =>
        {
            using var precision = MixedPrecision.Use(compute);
            using var stepScope = NewDisposeScope();
            using var grad = set_grad_enabled(backward);
            var output = network.forward(images);
            if (!backward) return;
            var loss = F.cross_entropy(output.Output, labels).add(output.BalanceLoss!, Scalars.Of(0.01));
            optimizer.ZeroGrad();
            loss.backward();
            if (update) optimizer.Step(1e-5);
        };
        (bool Backward, bool Update)[] phases = [(false, false), (true, false), (true, true)];
        var actions = phases.SelectMany(ph => Precisions.Select(p => Timed(p.Compute, ph.Backward, ph.Update))).ToList();
        var times = Stopwatches.InterleavedMedianMilliseconds(actions, warmup: 2, rounds: settings.Quick ? 3 : 9);
        int n = Precisions.Length;
        for (int i = 0; i < n; i++)
        {
            double forward = times[i].Wall, forwardBackward = times[n + i].Wall, step = times[2 * n + i].Wall;
            table.Add(Precisions[i].Name, forward, forwardBackward - forward, step - forwardBackward, step, 128 * 1000.0 / step, $"{step / times[2 * n].Wall:F3}x",
                times[2 * n + i].Cpu, $"{times[2 * n + i].Cpu / times[2 * n].Cpu:F3}x");
        }
        table.Notes.Add("bf16: linear layers and stacked experts in bf16 on fp32 master weights; norms, attention, routers, loss and AdamW in fp32.");
        table.Notes.Add("step CPU ms: the process's CPU time per step, which other processes inflate far less than wall time (with 1 thread it is the cost of the step).");
        table.Notes.Add("forward is timed without autograd, so backward (forward + backward minus it) also holds the cost of recording the graph.");
        table.Notes.Add($"Load average at the end: {LoadAverage()}.");
        return table;
    }

    internal static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
}
