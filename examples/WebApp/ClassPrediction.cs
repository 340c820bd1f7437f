namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>One class and its probability.</summary>
/// <param name="Name">The class name.</param>
/// <param name="Probability">Its probability, 0 to 1.</param>
public sealed record ClassProbability(string Name, float Probability);

/// <summary>The answer of a scoring endpoint.</summary>
/// <param name="Predicted">The most probable class.</param>
/// <param name="Top">The most probable classes, most probable first.</param>
/// <param name="Probabilities">Every class's probability, in the model's class order (<c>/health</c> lists it).</param>
public sealed record ClassPrediction(string Predicted, IReadOnlyList<ClassProbability> Top, float[] Probabilities)
{
    /// <summary>The prediction for <paramref name="probabilities"/> over <paramref name="classNames"/>, keeping the <paramref name="top"/> most probable.</summary>
    public static ClassPrediction From(float[] probabilities, IReadOnlyList<string> classNames, int top)
    {
        var ranked = probabilities.Select((p, k) => new ClassProbability(classNames[k], p))
            .OrderByDescending(c => c.Probability).Take(top).ToList();
        return new ClassPrediction(ranked[0].Name, ranked, probabilities);
    }
}
