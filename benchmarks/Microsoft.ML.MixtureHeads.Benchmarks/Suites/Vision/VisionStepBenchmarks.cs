using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Platform;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Benchmarks.Vision;

/// <summary>
/// The ViT training step of dense, MoH-75 and MoH-50 (4-block tiny models, batch 128) against the machine's measured
/// GEMM peak in the same number format. A few minutes; <c>--suite vit</c> runs it after the Fashion-MNIST trainings.
/// </summary>
public sealed class VisionStepBenchmarks : IBenchmarkSuite
{
    private static readonly string[] StepArchitectures = ["moh_vit_tiny_100", "moh_vit_tiny_75", "moh_vit_tiny_50"];

    public string Name => "vit-step";

    /// <summary>
    /// One optimizer step (forward, backward, AdamW) on the same batch of 128, MoH next to dense, interleaved, in fp32 and
    /// (where the CPU has native bf16) in the trainers' bf16 mixed precision; its FLOP rate next to a 1024^3 matrix
    /// product's in the same number format, measured in the same interleaved rounds on the same threads.
    /// </summary>
    public IReadOnlyList<BenchTable> Run(BenchSettings settings)
    {
        var table = new BenchTable($"Training step, batch 128, {settings.Threads} thread(s) (ms, median of interleaved rounds), against the GEMM peak " +
                                   "of the step's number format (mm 1024^3, measured in the same rounds)",
            "precision", "architecture", "step ms", "vs dense", "model GFLOP per step", "GFLOP/s", "GEMM peak GFLOP/s", "share of the peak");
        ScalarType?[] computeTypes = BFloat16Support.FastOnCpu ? [null, ScalarType.BFloat16] : [null];
        var configs = StepArchitectures.Select(ModelRegistry.Get<VisionTransformerConfig>).ToList();
        foreach (var compute in computeTypes)
        {
            using var scope = NewDisposeScope();
            using var precision = MixedPrecision.Use(compute);
            manual_seed(0);
            var format = compute ?? ScalarType.Float32;
            var (left, right) = (randn(1024, 1024).to(format), randn(1024, 1024).to(format));
            var images = rand(128, 1, 28, 28) * 255;
            var labels = randint(0, 10, [128]);
            var networks = configs.Select(c => new MoHVisionTransformer(c)).ToList();
            var optimizers = networks.Select(n => new AdamWOptimizer([new(n.parameters().ToList(), WeightDecay: 0.05)])).ToList();
            var steps = networks.Select((network, i) => (Action)(() =>
            {
                using var stepScope = NewDisposeScope();
                var output = network.forward(images);
                var loss = F.cross_entropy(output.Output, labels) + (output.BalanceLoss is null ? zeros(1).sum() : 0.01 * output.BalanceLoss);
                optimizers[i].ZeroGrad();
                loss.backward();
                optimizers[i].Step(1e-3);
            })).ToList();
            // The GEMM runs in the same rounds as the steps, so that a slower moment of the VM slows both.
            void Gemm() { using var s = NewDisposeScope(); for (int i = 0; i < 4; i++) left.mm(right); }
            var times = Stopwatches.InterleavedMedianMilliseconds([.. steps, Gemm], warmup: settings.Quick ? 1 : 3, rounds: settings.Quick ? 3 : 15);
            double peak = 4 * 2.0 * 1024 * 1024 * 1024 / (times[^1].Wall * 1e6);
            for (int i = 0; i < StepArchitectures.Length; i++)
            {
                double gflop = 128 * StepFlopsPerImage(configs[i]) / 1e9;
                double rate = gflop / (times[i].Wall / 1e3);
                table.Add(compute is null ? "fp32" : "bf16 mixed", StepArchitectures[i], times[i].Wall, $"{times[i].Wall / times[0].Wall:F3}x", gflop, rate, peak, $"{100 * rate / peak:F0} %");
            }
            foreach (var n in networks) n.Dispose();
            foreach (var o in optimizers) o.Dispose();
        }
        table.Notes.Add("Model FLOPs: 3x the forward's multiply-adds x 2 (backward = 2 forwards) of the convolutions, linear layers and attention products, " +
                        "every head counted (as the official MoH code computes them); norms, activations, routers and AdamW not counted. " +
                        "bf16 mixed: what the trainers run by default on this CPU (convolutions, linear layers and attention products in bf16, and the activations between them; layer norms, softmax, routers and gates in fp32).");
        table.Notes.Add("Goals (issue 17): MoH step <= 1.05x dense; the step at >= 60 % of the GEMM peak of its number format.");
        return [table];
    }

    /// <summary>Forward + backward FLOPs of one image through a convolutional-stem ViT (see the table's note).</summary>
    private static double StepFlopsPerImage(VisionTransformerConfig c)
    {
        double macs = 0;
        int side = c.ImageSize, stages = (int)Math.Log2(c.PatchSize);
        for (int i = 0, inChannels = c.Channels; i <= stages; i++)
        {
            int outChannels = c.Dim >> (stages - i);
            if (i > 0) side /= 2;
            macs += (double)side * side * 9 * inChannels * outChannels;
            inChannels = outChannels;
        }
        double tokens = c.PatchesPerSide * c.PatchesPerSide, hidden = Math.Round(c.Dim * c.MlpRatio);
        macs += c.Depth * (tokens * (4.0 * c.Dim * c.Dim + 2.0 * c.Dim * hidden) + 2.0 * tokens * tokens * c.Dim);
        return 3 * 2 * macs;
    }
}
