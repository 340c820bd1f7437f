namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// DiT's fixed 2-D sin-cos position embedding (<c>get_2d_sincos_pos_embed</c>, from MAE): for the token at row r,
/// column c of the patch grid, the first half of the vector encodes c and the second half r (DiT's meshgrid puts the
/// column first), each half as [sin(p w_k), cos(p w_k)] with w_k = 10000^(-k / (D/4)). Computed in double and rounded
/// once to float, as DiT computes it in NumPy float64.
/// </summary>
internal static class DiTPositions
{
    /// <summary>The table [gridSize * gridSize, dim] row-major, tokens in row-major grid order.</summary>
    public static float[] Table(int dim, int gridSize)
    {
        int quarter = dim / 4;
        var table = new float[gridSize * gridSize * dim];
        for (int r = 0; r < gridSize; r++)
            for (int c = 0; c < gridSize; c++)
            {
                int offset = (r * gridSize + c) * dim;
                Encode(table.AsSpan(offset, dim / 2), c, quarter);
                Encode(table.AsSpan(offset + dim / 2, dim / 2), r, quarter);
            }
        return table;
    }

    private static void Encode(Span<float> target, int position, int quarter)
    {
        for (int k = 0; k < quarter; k++)
        {
            double angle = position * (1.0 / Math.Pow(10000, k / (double)quarter));
            target[k] = (float)Math.Sin(angle);
            target[quarter + k] = (float)Math.Cos(angle);
        }
    }
}
