using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Models;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Generation;

/// <summary>
/// Sampling from a MoH-DiT (random weights, so predictions are not zero): determinism by seed, classifier-free guidance
/// as its formula, DDIM vs DDPM, the class grid PNG, and the exported denoiser sampled with ONNX Runtime giving the
/// images TorchSharp gives.
/// </summary>
public sealed class DiTGeneratorTests
{
    private static MoHDiT Model(int seed = 40, PredictionTarget prediction = PredictionTarget.Epsilon)
    {
        var (model, _) = DiTTestData.Generate(DiTTestData.SmallMoH with { Prediction = prediction }, batch: 2, seed);
        model.eval();
        return model;
    }

    [Fact]
    public void The_same_seed_gives_the_same_images_and_another_seed_others()
    {
        using var scope = NewDisposeScope();
        var generator = new DiTGenerator(Model());
        var a = generator.Generate(label: 2, count: 3, steps: 8, guidance: 2, seed: 11);
        var b = generator.Generate(label: 2, count: 3, steps: 8, guidance: 2, seed: 11);
        var c = generator.Generate(label: 2, count: 3, steps: 8, guidance: 2, seed: 12);
        Assert.Equal(3, a.Count);
        for (int i = 0; i < 3; i++) Assert.Equal(a[i].Pixels, b[i].Pixels);
        Assert.NotEqual(a[0].Pixels, c[0].Pixels);
        Assert.NotEqual(a[0].Pixels, a[1].Pixels);   // one noise stream, a fresh draw per image
        Assert.All(a, image => Assert.Equal((2, 1, 8, 8, 64), (image.Label, image.Channels, image.Height, image.Width, image.Pixels.Length)));

        var ddpm = generator.Generate(2, 3, new SamplingOptions { Steps = 8, GuidanceScale = 2, Seed = 11, Method = SamplingMethod.Ddpm });
        Assert.NotEqual(a[0].Pixels, ddpm[0].Pixels);
        var batched = generator.Generate(2, 3, new SamplingOptions { Steps = 8, GuidanceScale = 2, Seed = 11, BatchSize = 1 });
        for (int i = 0; i < 3; i++) Assert.Equal(a[i].Pixels, batched[i].Pixels, (x, y) => Math.Abs(x - y) < 1e-5f);
    }

    [Theory]
    [InlineData(SamplingMethod.Ddim, 10, PredictionTarget.Epsilon)]
    [InlineData(SamplingMethod.Ddim, 1000, PredictionTarget.Epsilon)]
    [InlineData(SamplingMethod.Ddpm, 25, PredictionTarget.Epsilon)]
    [InlineData(SamplingMethod.Ddim, 10, PredictionTarget.Velocity)]
    [InlineData(SamplingMethod.Ddpm, 25, PredictionTarget.Velocity)]
    public void With_the_exact_noise_of_one_image_the_sampler_lands_on_that_image(SamplingMethod method, int steps, PredictionTarget prediction)
    {
        // The ideal denoiser of a data set holding one image x*: eps = (x_t - sqrt(abar_t) x*) / sqrt(1 - abar_t),
        // or v = sqrt(abar_t) eps - sqrt(1 - abar_t) x*.
        var schedule = DiffusionSchedule.Default;
        var random = new Random(3);
        var target = Enumerable.Range(0, 64).Select(_ => (float)(random.NextDouble() * 1.8 - 0.9)).ToArray();   // in [-1, 1]
        float[] Ideal(float[] x, float[] t, long[] y, int rows)
        {
            var eps = new float[x.Length];
            for (int j = 0; j < x.Length; j++)
            {
                double abar = schedule.AlphaCumprod((int)t[j / 64]);
                double noise = (x[j] - Math.Sqrt(abar) * target[j % 64]) / Math.Sqrt(1 - abar);
                eps[j] = (float)(prediction == PredictionTarget.Epsilon ? noise : Math.Sqrt(abar) * noise - Math.Sqrt(1 - abar) * target[j % 64]);
            }
            return eps;
        }
        var images = DiffusionSampler.Generate(Ideal, new DenoiserShape(1, 8, 8, 3, prediction), schedule, label: 1, count: 2,
            new SamplingOptions { Steps = steps, GuidanceScale = 2, Seed = 9, Method = method });
        Assert.All(images, image => Assert.Equal(target.Select(v => (v + 1) / 2), image.Pixels, (a, b) => Math.Abs(a - b) < 1e-4f));
    }

    [Fact]
    public void Guidance_one_is_the_conditional_prediction_and_other_scales_follow_the_formula()
    {
        using var scope = NewDisposeScope();
        var model = Model();
        var shape = new DenoiserShape(1, 8, 8, 3, PredictionTarget.Epsilon);
        var x = randn(2, 1, 8, 8);
        float[] Denoise(float[] xs, float[] t, long[] y, int rows)
        {
            using var noGrad = no_grad();
            return model.forward(new DiTInput(tensor(xs, [rows, 1, 8, 8]), tensor(t), tensor(y))).Output.data<float>().ToArray();
        }
        Tensor Predict(long label)
        {
            using var noGrad = no_grad();
            return model.forward(new DiTInput(x, full(2, 500f), full(2, label, ScalarType.Int64))).Output;
        }
        var xs = x.data<float>().ToArray();
        var conditional = Predict(1);
        var unconditional = Predict(3);   // the null class
        Assert.Equal(conditional.data<float>().ToArray(), DiffusionSampler.GuidedPrediction(Denoise, shape, xs, 500, 1, 2, scale: 1));
        var guided = tensor(DiffusionSampler.GuidedPrediction(Denoise, shape, xs, 500, 1, 2, scale: 3), [2, 1, 8, 8]);
        Parity.ParityAssert.Close("guided eps", unconditional + 3 * (conditional - unconditional), guided, Parity.Tolerance.Reduction);
        Assert.True((conditional - unconditional).abs().max().item<float>() > 1e-3, "the class changes the prediction");
    }

    [Theory]
    [InlineData(PredictionTarget.Epsilon)]
    [InlineData(PredictionTarget.Velocity)]
    public void Onnx_runtime_sampling_gives_the_torchsharp_images(PredictionTarget prediction)
    {
        using var scope = NewDisposeScope();
        var model = Model(prediction: prediction);
        using var onnx = new OnnxDiTGenerator(DiTOnnx.Export(model));
        var torch = new DiTGenerator(model);
        Assert.Equal((3, DiffusionSchedule.Default), (onnx.Classes, onnx.Schedule));
        foreach (var method in new[] { SamplingMethod.Ddim, SamplingMethod.Ddpm })
        {
            var options = new SamplingOptions { Steps = 10, GuidanceScale = 2.5, Seed = 21, Method = method };
            var expected = torch.Generate(0, 4, options);
            var actual = onnx.Generate(0, 4, options);
            double worst = expected.Zip(actual).Max(p => p.First.Pixels.Zip(p.Second.Pixels).Max(v => Math.Abs(v.First - v.Second)));
            Assert.True(worst < 1e-4, $"{method}: ONNX Runtime and TorchSharp pixels differ by up to {worst}");
        }
        Assert.Throws<InvalidDataException>(() => new OnnxDiTGenerator(DiTOnnx.Export(model)[..100]));
    }

    [Fact]
    public void The_grid_has_one_row_per_class_and_bad_arguments_are_typed_errors()
    {
        using var scope = NewDisposeScope();
        var generator = new DiTGenerator(Model());
        var images = generator.GenerateEveryClass(perClass: 4, new SamplingOptions { Steps = 3, Seed = 5 });
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], images.Select(i => i.Label));
        using var grid = SKBitmap.Decode(ImageGrid.ToPng(images, gap: 2));
        Assert.Equal((4 * 8 + 3 * 2, 3 * 8 + 2 * 2), (grid.Width, grid.Height));
        using var single = SKBitmap.Decode(images[0].ToPng());
        Assert.Equal((8, 8), (single.Width, single.Height));

        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(label: 3, count: 1));   // the null class is not a class to ask for
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(label: 0, count: 1, steps: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(label: 0, count: 1, steps: 1001));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(label: 0, count: 1, guidance: double.NaN));
        Assert.Empty(generator.Generate(label: 0, count: 0));
    }
}
