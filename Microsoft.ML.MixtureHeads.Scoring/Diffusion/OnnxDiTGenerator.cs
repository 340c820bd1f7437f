using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>
/// Class-conditional image generation from an exported DiT denoiser graph with ONNX Runtime, no TorchSharp: the same
/// DDIM / DDPM loop, guidance and seeded noise as the TorchSharp <c>DiTGenerator</c>, so with equal denoisers both give
/// the same images. The schedule and image size are read from the graph's metadata.
/// </summary>
public sealed class OnnxDiTGenerator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly DenoiserShape _shape;

    /// <summary>Loads a denoiser graph from ONNX bytes (as <c>DiTOnnx.Export</c> writes them).</summary>
    /// <exception cref="InvalidDataException">The bytes are not such a graph (the message names what is missing).</exception>
    public OnnxDiTGenerator(byte[] model)
    {
        _session = OnnxGraphSession.Open(model);
        try
        {
            var metadata = _session.ModelMetadata.CustomMetadataMap;
            string Text(string key) => metadata.TryGetValue(key, out var text) ? text
                : throw new InvalidDataException($"The ONNX model is not an exported DiT denoiser: metadata '{key}' is missing.");
            int Count(string key) => int.TryParse(Text(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0 ? value
                : throw new InvalidDataException($"The DiT denoiser's metadata '{key}' is not a positive count.");
            double Real(string key) => double.TryParse(Text(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) ? value
                : throw new InvalidDataException($"The DiT denoiser's metadata '{key}' is not a number.");
            int size = Count(DiTDenoiserGraph.ImageSizeKey);
            var prediction = Enum.TryParse<PredictionTarget>(Text(DiTDenoiserGraph.PredictionKey), out var target) && Enum.IsDefined(target) ? target
                : throw new InvalidDataException($"The DiT denoiser's metadata '{DiTDenoiserGraph.PredictionKey}' is not one of {string.Join(", ", Enum.GetNames<PredictionTarget>())}.");
            _shape = new DenoiserShape(Count(DiTDenoiserGraph.ChannelsKey), size, size, Count(DiTDenoiserGraph.ClassesKey), prediction);
            Schedule = new DiffusionSchedule(Count(DiTDenoiserGraph.ScheduleStepsKey), Real(DiTDenoiserGraph.BetaStartKey), Real(DiTDenoiserGraph.BetaEndKey));
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>The noise schedule the denoiser was trained with.</summary>
    public DiffusionSchedule Schedule { get; }

    /// <summary>Number of classes (labels 0 .. Classes - 1).</summary>
    public int Classes => _shape.Classes;

    /// <summary>
    /// <paramref name="count"/> images of class <paramref name="label"/>: DDIM (eta 0) with <paramref name="steps"/>
    /// steps, classifier-free guidance scale <paramref name="guidance"/> (1 = conditional only), starting noise from
    /// <paramref name="seed"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The class, count, step count or guidance is out of range.</exception>
    public IReadOnlyList<GeneratedImage> Generate(int label, int count, int steps = 50, double guidance = 2, int seed = 0) =>
        Generate(label, count, new SamplingOptions { Steps = steps, GuidanceScale = guidance, Seed = seed });

    /// <summary><paramref name="count"/> images of class <paramref name="label"/> as <paramref name="options"/> say.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The class, count or an option is out of range.</exception>
    public IReadOnlyList<GeneratedImage> Generate(int label, int count, SamplingOptions options, CancellationToken cancellation = default) =>
        DiffusionSampler.Generate(Denoise, _shape, Schedule, label, count, options, cancellation);

    private float[] Denoise(float[] x, float[] t, long[] y, int rows)
    {
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(DiTDenoiserGraph.X, new DenseTensor<float>(x, [rows, _shape.Channels, _shape.Height, _shape.Width])),
            NamedOnnxValue.CreateFromTensor(DiTDenoiserGraph.Timesteps, new DenseTensor<float>(t, [rows])),
            NamedOnnxValue.CreateFromTensor(DiTDenoiserGraph.Labels, new DenseTensor<long>(y, [rows])),
        };
        using var results = _session.Run(inputs, [DiTDenoiserGraph.Prediction]);
        return results[0].AsEnumerable<float>().ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
