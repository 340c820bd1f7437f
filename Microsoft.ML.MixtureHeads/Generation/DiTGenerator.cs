using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// Class-conditional image generation with a trained <see cref="MoHDiT"/> (use the EMA weights training returns):
/// DDIM (eta 0) or DDPM with a step count, classifier-free guidance and a seed. The sampling loop and its seeded noise
/// are the scoring package's, shared with <see cref="OnnxDiTGenerator"/>, so the exported denoiser gives the same images.
/// </summary>
public sealed class DiTGenerator
{
    private readonly MoHDiT _model;
    private readonly DenoiserShape _shape;

    /// <summary>A generator over <paramref name="model"/> (not copied: later training changes what it generates).</summary>
    /// <param name="model">The denoiser.</param>
    /// <param name="schedule">The noise schedule it was trained with; null for DDPM's (1,000 steps, 1e-4 .. 0.02).</param>
    public DiTGenerator(MoHDiT model, DiffusionSchedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        Schedule = schedule ?? DiffusionSchedule.Default;
        var config = model.Config;
        _shape = new DenoiserShape(config.Channels, config.ImageSize, config.ImageSize, config.Classes, config.Prediction);
    }

    /// <summary>The noise schedule.</summary>
    public DiffusionSchedule Schedule { get; }

    /// <summary>
    /// <paramref name="count"/> images of class <paramref name="label"/>: DDIM (eta 0) with <paramref name="steps"/>
    /// steps, classifier-free guidance scale <paramref name="guidance"/> (1 = the conditional prediction alone), starting
    /// noise from <paramref name="seed"/>. The same arguments give the same images.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The class, count, step count or guidance is out of range.</exception>
    public IReadOnlyList<GeneratedImage> Generate(int label, int count, int steps = 50, double guidance = 2, int seed = 0) =>
        Generate(label, count, new SamplingOptions { Steps = steps, GuidanceScale = guidance, Seed = seed });

    /// <summary><paramref name="count"/> images of class <paramref name="label"/> as <paramref name="options"/> say (DDIM or DDPM, batch size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The class, count or an option is out of range.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was cancelled.</exception>
    public IReadOnlyList<GeneratedImage> Generate(int label, int count, SamplingOptions options, CancellationToken cancellation = default)
    {
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            return DiffusionSampler.Generate(Denoise, _shape, Schedule, label, count, options, cancellation);
        }
        finally
        {
            if (wasTraining) _model.train();
        }
    }

    /// <summary>One image per class per column: <paramref name="perClass"/> images of every class, for <see cref="ImageGrid"/>.</summary>
    public IReadOnlyList<GeneratedImage> GenerateEveryClass(int perClass, SamplingOptions options, CancellationToken cancellation = default) =>
        Enumerable.Range(0, _shape.Classes).SelectMany(label => Generate(label, perClass, options with { Seed = options.Seed + label }, cancellation)).ToList();

    private float[] Denoise(float[] x, float[] t, long[] y, int rows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = _model.x_embedder.proj.weight.device;
        var input = new DiTInput(tensor(x, [rows, _shape.Channels, _shape.Height, _shape.Width], device: device), tensor(t, device: device), tensor(y, device: device));
        return _model.forward(input).Output.cpu().data<float>().ToArray();
    }
}
