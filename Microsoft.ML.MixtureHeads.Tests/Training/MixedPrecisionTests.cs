using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Estimators;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Platform;
using Microsoft.ML.MixtureHeads.Tests.Estimators;
using Microsoft.ML.MixtureHeads.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>
/// bf16 mixed precision: layers under a bf16 scope stay within bf16 rounding of fp32 (forward and gradients, which
/// reach the fp32 parameters as fp32), routers keep their fp32 decisions, nothing changes outside a scope, a short fit
/// learns as fp32 does, and the exported model is fp32 and matches the TorchSharp fp32 forward of its weights.
/// </summary>
public sealed class MixedPrecisionTests
{
    /// <summary>bf16 keeps 8 mantissa bits (relative rounding 2^-9 per operand): errors of products over a few layers, as a norm ratio.</summary>
    private const double BFloat16Tolerance = 2e-2;

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static double RelativeError(Tensor actual, Tensor expected) =>
        (actual - expected).norm().item<float>() / Math.Max(1e-12, expected.norm().item<float>());

    /// <summary>Forward output and every parameter's gradient of <paramref name="module"/> for a loss of its output, in one precision.</summary>
    private static (Tensor Output, Dictionary<string, Tensor> Gradients) Run(nn.Module module, Func<Tensor> forward, ScalarType? compute)
    {
        using var precision = MixedPrecision.Use(compute);
        foreach (var p in module.parameters()) p.grad = null;
        var output = forward();
        var weights = linspace(0.5, 1.5, output.numel()).reshape(output.shape);   // weighs every output differently, without sums that cancel
        (output * weights).sum().backward();
        return (output.detach(), module.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone()));
    }

    [Fact]
    public void MoH_attention_in_bf16_is_within_bf16_rounding_of_fp32_with_fp32_gradients_and_the_same_routing()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var layer = new MoHAttention(new MoHAttentionOptions { Dim = 64, Heads = 8, SharedHeads = 2, RoutedTopK = 4, Routing = HeadRouting.Learned });
        layer.train();
        var x = randn(2, 16, 64);
        MoHAttentionOutput? last = null;
        Tensor Forward() { last = layer.call(new AttentionInput(x)); return last.Output.add(last.BalanceLoss!, Scalars.Of(1.0)); }

        var (fp32, fp32Gradients) = Run(layer, Forward, null);
        var fp32Gates = last!.Gates.detach().clone();
        var (bf16, bf16Gradients) = Run(layer, Forward, ScalarType.BFloat16);

        Assert.Equal(ScalarType.Float32, bf16.dtype);
        Assert.True(RelativeError(bf16, fp32) < BFloat16Tolerance, $"forward differs by {RelativeError(bf16, fp32):E2}");
        Assert.True(RelativeError(bf16, fp32) > 0, "the bf16 scope changed nothing: the products did not run in bf16");
        Assert.True(Same(last!.Gates, fp32Gates), "routers must decide in fp32: the gates changed under bf16");
        foreach (var (name, gradient) in fp32Gradients)
        {
            Assert.Equal(ScalarType.Float32, bf16Gradients[name].dtype);
            Assert.True(RelativeError(bf16Gradients[name], gradient) < BFloat16Tolerance, $"gradient of {name} differs by {RelativeError(bf16Gradients[name], gradient):E2}");
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Attention_in_bf16_is_within_bf16_rounding_of_fp32_sdpa_with_key_padding_and_causal_masks(bool padding, bool causal)
    {
        using var scope = NewDisposeScope();
        manual_seed(15);
        var (q, k, v) = (randn(2, 4, 9, 16).requires_grad_(), randn(2, 4, 9, 16).requires_grad_(), randn(2, 4, 9, 16).requires_grad_());
        var keyPadding = padding ? arange(9).lt(tensor(new long[] { 9, 5 }).unsqueeze(1)).view(2, 1, 1, 9) : null;   // second sequence: 5 real tokens
        (Tensor Output, Tensor[] Gradients) Run(ScalarType? compute)
        {
            using var precision = MixedPrecision.Use(compute);
            foreach (var t in new[] { q, k, v }) t.grad = null;
            var output = MixedPrecision.Attention(q, k, v, keyPadding, dropout: 0, causal);
            (output * linspace(0.5, 1.5, output.numel()).reshape(output.shape)).sum().backward();
            return (output.detach(), [q.grad!.clone(), k.grad!.clone(), v.grad!.clone()]);
        }

        var (fp32, fp32Gradients) = Run(null);
        var (bf16, bf16Gradients) = Run(ScalarType.BFloat16);

        Assert.True(Same(fp32, F.scaled_dot_product_attention(q, k, v, keyPadding, is_casual: causal).detach()), "outside a bf16 scope attention is fp32 sdpa");
        Assert.Equal(ScalarType.Float32, bf16.dtype);
        Assert.True(RelativeError(bf16, fp32) is > 0 and < BFloat16Tolerance, $"forward differs by {RelativeError(bf16, fp32):E2}");
        for (int i = 0; i < 3; i++)
            Assert.True(RelativeError(bf16Gradients[i], fp32Gradients[i]) < BFloat16Tolerance, $"gradient {"qkv"[i]} differs by {RelativeError(bf16Gradients[i], fp32Gradients[i]):E2}");
    }

    [Fact]
    public void Attention_over_more_keys_than_the_bf16_limit_stays_fp32_sdpa()
    {
        using var scope = NewDisposeScope();
        manual_seed(16);
        long keys = MixedPrecision.BFloat16AttentionMaxKeys + 1;
        var (q, k, v) = (randn(1, 2, 3, 8), randn(1, 2, keys, 8), randn(1, 2, keys, 8));
        using var precision = MixedPrecision.Use(ScalarType.BFloat16);
        Assert.True(Same(MixedPrecision.Attention(q, k, v, null, 0, causal: false), F.scaled_dot_product_attention(q, k, v)));
    }

    [Fact]
    public void BitLinear_projections_get_fp32_activations_under_a_bf16_scope()
    {
        using var scope = NewDisposeScope();
        manual_seed(17);
        using var mlp = new GeluMlp(32, 64, LinearKind.BitLinear);
        var x = randn(4, 5, 32);
        var fp32 = mlp.call(x);
        using var precision = MixedPrecision.Use(ScalarType.BFloat16);
        Assert.True(Same(mlp.call(x), fp32), "BitLinear quantises in fp32: the MLP must not hand it bf16 activations");
    }

    [Fact]
    public void MH_MoE_experts_in_bf16_are_within_bf16_rounding_of_fp32()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        using var layer = new MultiHeadMoE(new MultiHeadMoEOptions { Dim = 32, Heads = 2, Experts = 4, TopK = 2, ExpertHidden = 48 });
        layer.train();
        var x = randn(3, 10, 32);
        var (fp32, fp32Gradients) = Run(layer, () => layer.call(x, null).Output, null);
        var (bf16, bf16Gradients) = Run(layer, () => layer.call(x, null).Output, ScalarType.BFloat16);

        Assert.True(RelativeError(bf16, fp32) is > 0 and < BFloat16Tolerance, $"forward differs by {RelativeError(bf16, fp32):E2}");
        foreach (var (name, gradient) in fp32Gradients.Where(g => g.Value.norm().item<float>() > 0))
            Assert.True(RelativeError(bf16Gradients[name], gradient) < BFloat16Tolerance, $"gradient of {name} differs by {RelativeError(bf16Gradients[name], gradient):E2}");
    }

    [Theory]
    [InlineData(1, 64)]   // where oneDNN's fp32 AVX-512 kernels get narrow convolutions wrong (docs/decisions.md): its bf16 ones must not
    [InlineData(2, 64)]
    [InlineData(2, 24)]   // channels 6 and 12: the im2col convolutions, fed bf16 activations
    public void A_conv_stem_in_bf16_is_within_bf16_rounding_of_fp32_on_every_thread_count(int threads, int dim)
    {
        using var scope = NewDisposeScope();
        using var threadCount = LibTorchThreads.Use(threads);
        manual_seed(14);
        using var stem = new ConvStem(inChannels: 1, dim: dim, patchSize: 4, batchNorm: true);
        stem.train();
        var images = randn(8, 1, 28, 28);
        var (fp32, fp32Gradients) = Run(stem, () => stem.call(images), null);
        var (bf16, bf16Gradients) = Run(stem, () => stem.call(images), ScalarType.BFloat16);

        Assert.Equal(ScalarType.Float32, bf16.dtype);
        Assert.True(RelativeError(bf16, fp32) is > 0 and < BFloat16Tolerance, $"forward differs by {RelativeError(bf16, fp32):E2}");
        // A convolution's bias followed by batch normalisation has a gradient of zero in exact arithmetic: only rounding noise to compare.
        bool Normalised(string name) => name.StartsWith("convs.", StringComparison.Ordinal) && name.EndsWith(".bias", StringComparison.Ordinal)
            && name != $"convs.{stem.convs.Count - 1}.bias";
        foreach (var (name, gradient) in fp32Gradients.Where(g => !Normalised(g.Key)))
        {
            Assert.Equal(ScalarType.Float32, bf16Gradients[name].dtype);
            Assert.True(RelativeError(bf16Gradients[name], gradient) < BFloat16Tolerance, $"gradient of {name} differs by {RelativeError(bf16Gradients[name], gradient):E2}");
        }
    }

    [Fact]
    public void Without_a_bf16_scope_the_products_are_bit_for_bit_fp32()
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        var (x, w, b) = (randn(5, 7), randn(3, 7), randn(3));
        Assert.True(Same(MixedPrecision.Linear(x, w, b), F.linear(x, w, b)));
        using (MixedPrecision.Use(null))
            Assert.True(Same(MixedPrecision.Linear(x, w, b), F.linear(x, w, b)));
        using (MixedPrecision.Use(ScalarType.BFloat16))
        {
            Assert.False(Same(MixedPrecision.Linear(x, w, b), F.linear(x, w, b)));
            using (MixedPrecision.Use(null))
                Assert.True(Same(MixedPrecision.Linear(x, w, b), F.linear(x, w, b)));
            Assert.Equal(ScalarType.BFloat16, MixedPrecision.Compute);
        }
        Assert.Null(MixedPrecision.Compute);
    }

    [Theory]
    [InlineData("fpu vme avx512f avx512_bf16 avx512vl", true)]
    [InlineData("fpu amx_bf16 amx_tile", true)]
    [InlineData("fpu avx2 avx512f avx512_vnni", false)]
    [InlineData("fpu avx512_bf16x", false)]
    [InlineData(null, false)]
    public void The_probe_reads_native_bf16_from_the_cpu_flags(string? flags, bool fast) =>
        Assert.Equal(fast, BFloat16Support.FlagsSayFast(flags));

    [Fact]
    public void Auto_is_bf16_only_on_a_cpu_with_native_bf16_and_Float32_is_never_bf16()
    {
        Assert.Equal(BFloat16Support.FastOnCpu ? ScalarType.BFloat16 : null, TrainingPrecisions.ComputeType(TrainingPrecision.Auto, CPU));
        Assert.Null(TrainingPrecisions.ComputeType(TrainingPrecision.Float32, CPU));
        Assert.Equal(ScalarType.BFloat16, TrainingPrecisions.ComputeType(TrainingPrecision.BFloat16, CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingPrecisions.ComputeType((TrainingPrecision)7, CPU));
    }

    private sealed class Row
    {
        public string Label { get; set; } = "";

        [VectorType(1, 28, 28)]
        public float[] Pixels { get; set; } = [];
    }

    private static readonly List<Row> Rows = FashionMnistData.Read(FashionMnistSplit.Train).Take(400).Rows()
        .Select(r => new Row { Label = r.Label, Pixels = r.Pixels }).ToList();

    private static (MoHImageClassificationTransformer Model, List<TrainingMetrics> Epochs) Fit(TrainingPrecision precision)
    {
        var ml = new MLContext(seed: 1);
        var epochs = new List<TrainingMetrics>();
        var options = new MoHImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", Epochs = 4, BatchSize = 50, LearningRate = 5e-3, WarmupEpochs = 0.5, Seed = 5,
            Model = TinyVisionTransformers.MoH, Precision = precision,
            MetricsCallback = m => { if (m.Phase == TrainingPhase.EpochEnd) epochs.Add(m); },
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MoHImageClassifier(options)).Fit(ml.Data.LoadFromEnumerable(Rows)).LastTransformer;
        return (model, epochs);
    }

    [Fact]
    public void A_bf16_fit_learns_like_fp32_and_exports_an_fp32_model_equal_to_the_fp32_forward_of_its_weights()
    {
        var (fp32, fp32Epochs) = Fit(TrainingPrecision.Float32);
        var (bf16, bf16Epochs) = Fit(TrainingPrecision.BFloat16);
        using (fp32)
        using (bf16)
        {
            string losses = $"epoch losses fp32 {string.Join(" ", fp32Epochs.Select(e => e.Loss.ToString("F3")))}, bf16 {string.Join(" ", bf16Epochs.Select(e => e.Loss.ToString("F3")))}";
            Assert.True(fp32Epochs[^1].Loss < fp32Epochs[0].Loss - 0.2, losses);
            Assert.True(bf16Epochs[^1].Loss < bf16Epochs[0].Loss - 0.2, losses);
            Assert.True(Math.Abs(bf16Epochs[^1].Loss - fp32Epochs[^1].Loss) < 0.1 * fp32Epochs[^1].Loss,
                losses);
            Assert.NotEqual(fp32.GetOnnxModel(), bf16.GetOnnxModel());   // the precision did act

            var onnx = OnnxModelReader.Read(bf16.GetOnnxModel());
            Assert.All(onnx.Initializers.Where(t => t.ElementType is not (OnnxElementType.Int64 or OnnxElementType.Bool)),
                t => Assert.Equal(OnnxElementType.Float, t.ElementType));
            Assert.All(bf16.Network.Module.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));

            var ml = new MLContext();
            var rows = Rows.Take(20).ToList();
            float[] scores = bf16.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var pixels = tensor(rows.SelectMany(r => r.Pixels).ToArray(), [rows.Count, 1, 28, 28]);
            var reference = softmax(bf16.Network.forward(pixels).Output, 1);   // no scope: the fp32 forward
            Assert.True(RelativeError(tensor(scores).reshape(reference.shape), reference) < 1e-5,
                $"ONNX scores differ from the fp32 TorchSharp forward by {RelativeError(tensor(scores).reshape(reference.shape), reference):E2}");
        }
    }
}
