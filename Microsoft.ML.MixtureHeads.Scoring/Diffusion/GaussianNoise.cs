namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>
/// Standard normal draws from a seeded <see cref="Random"/> (Box-Muller in double, rounded to float): the same seed
/// gives the same noise in every process and on every runtime, so a TorchSharp sampler and an ONNX Runtime one start
/// from, and add, the very same noise.
/// </summary>
internal sealed class GaussianNoise(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>Fills <paramref name="target"/> with N(0, 1) values.</summary>
    public void Fill(Span<float> target)
    {
        for (int i = 0; i < target.Length; i += 2)
        {
            double u1 = 1.0 - _random.NextDouble(), u2 = _random.NextDouble();   // u1 in (0, 1]
            double radius = Math.Sqrt(-2.0 * Math.Log(u1)), angle = 2.0 * Math.PI * u2;
            target[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < target.Length) target[i + 1] = (float)(radius * Math.Sin(angle));
        }
    }

    /// <summary>A new array of <paramref name="count"/> N(0, 1) values.</summary>
    public float[] Next(int count)
    {
        var values = new float[count];
        Fill(values);
        return values;
    }
}
