namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>
/// A denoiser: its prediction (noise or velocity, as <see cref="DenoiserShape.Prediction"/> says) for
/// <paramref name="rows"/> noisy images x [rows, C, H, W] (flat) at timesteps t [rows] with labels y [rows] (the null
/// class for the unconditional prediction).
/// </summary>
internal delegate float[] Denoiser(float[] x, float[] t, long[] y, int rows);

/// <summary>The image a denoiser works on, its class count (the null class is <see cref="Classes"/>) and what it predicts.</summary>
internal sealed record DenoiserShape(int Channels, int Height, int Width, int Classes, PredictionTarget Prediction)
{
    public int Pixels => Channels * Height * Width;
}

/// <summary>
/// DDIM (eta 0) and DDPM sampling with classifier-free guidance, on the host in double precision, around any
/// <see cref="Denoiser"/>: the TorchSharp generator and the ONNX Runtime one share this loop and its seeded noise, so
/// they differ only by what their denoisers compute. The predicted x_0 is clipped to [-1, 1] each step (DiT's
/// <c>clip_denoised</c>); the final x_0 is mapped to pixels in [0, 1].
/// </summary>
internal static class DiffusionSampler
{
    public static IReadOnlyList<GeneratedImage> Generate(Denoiser denoiser, DenoiserShape shape, DiffusionSchedule schedule,
        int label, int count, SamplingOptions options, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (label < 0 || label >= shape.Classes)
            throw new ArgumentOutOfRangeException(nameof(label), label, $"The class must be between 0 and {shape.Classes - 1}.");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "SamplingOptions.BatchSize must be at least 1.");
        if (!double.IsFinite(options.GuidanceScale) || options.GuidanceScale < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.GuidanceScale, "SamplingOptions.GuidanceScale must be finite and at least 0.");
        if (!Enum.IsDefined(options.Method)) throw new ArgumentOutOfRangeException(nameof(options), options.Method, "Unknown SamplingMethod.");
        var timesteps = schedule.SamplingTimesteps(options.Steps);

        var noise = new GaussianNoise(options.Seed);
        var images = new List<GeneratedImage>(count);
        for (int start = 0; start < count; start += options.BatchSize)
        {
            int rows = Math.Min(options.BatchSize, count - start);
            var x = noise.Next(rows * shape.Pixels);                 // x_T ~ N(0, I)
            for (int i = 0; i < timesteps.Length; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                int t = timesteps[i];
                double abarPrev = i + 1 < timesteps.Length ? schedule.AlphaCumprod(timesteps[i + 1]) : 1.0;
                double abar = schedule.AlphaCumprod(t);
                var epsilon = Epsilon(shape.Prediction, x, GuidedPrediction(denoiser, shape, x, t, label, rows, options.GuidanceScale), abar);
                bool last = i + 1 == timesteps.Length;
                var stepNoise = options.Method == SamplingMethod.Ddpm && !last ? noise.Next(x.Length) : null;
                Step(x, epsilon, abar, abarPrev, stepNoise);
            }
            for (int r = 0; r < rows; r++)
            {
                var pixels = new float[shape.Pixels];
                for (int j = 0; j < pixels.Length; j++) pixels[j] = Math.Clamp((x[r * shape.Pixels + j] + 1f) / 2f, 0f, 1f);
                images.Add(new GeneratedImage(label, shape.Channels, shape.Height, shape.Width, pixels));
            }
        }
        return images;
    }

    /// <summary>
    /// p(null) + s (p(class) - p(null)) for the denoiser's prediction p; with s = 1 the conditional prediction alone.
    /// At fixed x_t and t, v is an affine function of eps, so guiding v equals guiding eps.
    /// </summary>
    internal static float[] GuidedPrediction(Denoiser denoiser, DenoiserShape shape, float[] x, int t, int label, int rows, double scale)
    {
        if (scale == 1) return denoiser(x, Filled(rows, (float)t), Filled(rows, (long)label), rows);
        var both = new float[2 * x.Length];                                  // [conditional rows; unconditional rows]
        x.CopyTo(both, 0);
        x.CopyTo(both, x.Length);
        var labels = Filled(2 * rows, (long)label);
        Array.Fill(labels, shape.Classes, rows, rows);
        var eps = denoiser(both, Filled(2 * rows, (float)t), labels, 2 * rows);
        var guided = new float[x.Length];
        for (int j = 0; j < guided.Length; j++)
        {
            double unconditional = eps[x.Length + j];
            guided[j] = (float)(unconditional + scale * (eps[j] - unconditional));
        }
        return guided;
    }

    /// <summary>The noise the denoiser's <paramref name="prediction"/> implies for x_t = <paramref name="x"/>.</summary>
    private static float[] Epsilon(PredictionTarget target, float[] x, float[] prediction, double abar)
    {
        if (target == PredictionTarget.Epsilon) return prediction;
        double fromX = Math.Sqrt(1 - abar), fromV = Math.Sqrt(abar);
        for (int j = 0; j < prediction.Length; j++) prediction[j] = (float)(fromX * x[j] + fromV * prediction[j]);   // eps = sqrt(1 - abar) x_t + sqrt(abar) v
        return prediction;
    }

    /// <summary>
    /// One step from abar_t to abar_prev in place: x_0 = (x - sqrt(1 - abar_t) eps) / sqrt(abar_t), clipped, eps
    /// recomputed from it; DDIM: x = sqrt(abar_prev) x_0 + sqrt(1 - abar_prev) eps; DDPM (noise given): the posterior
    /// mean plus sqrt(posterior variance) noise on the respaced beta = 1 - abar_t / abar_prev.
    /// </summary>
    private static void Step(float[] x, float[] epsilon, double abar, double abarPrev, float[]? noise)
    {
        double beta = 1 - abar / abarPrev;
        double meanX0 = Math.Sqrt(abarPrev) * beta / (1 - abar), meanXt = Math.Sqrt(1 - beta) * (1 - abarPrev) / (1 - abar);
        double deviation = Math.Sqrt(beta * (1 - abarPrev) / (1 - abar));
        for (int j = 0; j < x.Length; j++)
        {
            double x0 = Math.Clamp((x[j] - Math.Sqrt(1 - abar) * epsilon[j]) / Math.Sqrt(abar), -1, 1);
            if (noise is null && abarPrev < 1)
            {
                double eps = (x[j] - Math.Sqrt(abar) * x0) / Math.Sqrt(1 - abar);
                x[j] = (float)(Math.Sqrt(abarPrev) * x0 + Math.Sqrt(1 - abarPrev) * eps);
            }
            else if (noise is null) x[j] = (float)x0;                          // the last step lands on x_0
            else x[j] = (float)(meanX0 * x0 + meanXt * x[j] + deviation * noise[j]);
        }
    }

    private static T[] Filled<T>(int count, T value)
    {
        var values = new T[count];
        Array.Fill(values, value);
        return values;
    }
}
