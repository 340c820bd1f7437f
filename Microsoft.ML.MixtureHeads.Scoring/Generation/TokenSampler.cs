namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>Picks the next token from one position's logits, on the host, as <see cref="GenerationOptions"/> says.</summary>
internal static class TokenSampler
{
    /// <summary>The next token id for <paramref name="logits"/> [V] after the tokens in <paramref name="seen"/>.</summary>
    public static long Next(float[] logits, ISet<long> seen, GenerationOptions options, Random random)
    {
        var scores = Array.ConvertAll(logits, l => (double)l);
        if (options.RepetitionPenalty != 1)
            foreach (long id in seen)
                if (id >= 0 && id < scores.Length)
                    scores[id] = scores[id] > 0 ? scores[id] / options.RepetitionPenalty : scores[id] * options.RepetitionPenalty;
        if (options.Temperature == 0) return ArgMax(scores);

        // Candidates by falling score (ties: lower id first), cut to the top k.
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).ToArray();
        int kept = options.TopK > 0 ? Math.Min(options.TopK, order.Length) : order.Length;
        double max = scores[order[0]];
        var weights = new double[kept];
        double total = 0;
        for (int j = 0; j < kept; j++) total += weights[j] = Math.Exp((scores[order[j]] - max) / options.Temperature);

        // Nucleus: the shortest prefix whose probability reaches TopP.
        if (options.TopP < 1)
        {
            double cumulative = 0;
            int nucleus = 0;
            while (nucleus < kept && cumulative < options.TopP * total) cumulative += weights[nucleus++];
            (kept, total) = (Math.Max(1, nucleus), cumulative);
        }

        double draw = random.NextDouble() * total;
        for (int j = 0; j < kept; j++)
        {
            draw -= weights[j];
            if (draw < 0) return order[j];
        }
        return order[kept - 1];
    }

    private static long ArgMax(double[] scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best;
    }
}
