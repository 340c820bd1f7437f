using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>What a saved classifier gives back for one input: the probability of every class, in the model's class order.</summary>
public sealed class ScoreOutput
{
    /// <summary>Class probabilities (the model's <c>Score</c> column).</summary>
    public float[] Score { get; set; } = [];
}

/// <summary>
/// A saved ML.NET classifier loaded once, scored from any thread: ML.NET's prediction engines are not thread-safe, so
/// each call rents one from a pool (what Microsoft.Extensions.ML's <c>PredictionEnginePool</c> does; that package is
/// not in our registry copy).
/// </summary>
/// <typeparam name="TInput">The model's input row.</typeparam>
public sealed class PooledClassifier<TInput> where TInput : class, new()
{
    private readonly ObjectPool<PredictionEngine<TInput, ScoreOutput>> _engines;

    /// <summary>Loads <paramref name="zipPath"/> with plain <c>mlContext.Model.Load</c>.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="zipPath"/>.</exception>
    /// <exception cref="InvalidDataException">The model has no <c>Score</c> column with class names.</exception>
    public PooledClassifier(string zipPath)
    {
        if (!File.Exists(zipPath)) throw new FileNotFoundException($"No saved model at {zipPath}.", zipPath);
        var mlContext = new MLContext();
        var model = mlContext.Model.Load(zipPath, out var inputSchema);
        ClassNames = ScoreSlotNames(model.GetOutputSchema(inputSchema), zipPath);
        Path = System.IO.Path.GetFullPath(zipPath);
        // DefaultObjectPool never disposes an engine it drops; disposing one would dispose the shared model.
        _engines = new DefaultObjectPool<PredictionEngine<TInput, ScoreOutput>>(
            new EnginePolicy(mlContext, model), maximumRetained: Environment.ProcessorCount * 2);
    }

    /// <summary>The saved model's full path.</summary>
    public string Path { get; }

    /// <summary>The class names, in the order of <see cref="ScoreOutput.Score"/>.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The class probabilities of one input.</summary>
    public float[] Score(TInput input)
    {
        var engine = _engines.Get();
        try
        {
            return engine.Predict(input).Score.ToArray();
        }
        finally
        {
            _engines.Return(engine);
        }
    }

    private static string[] ScoreSlotNames(DataViewSchema schema, string zipPath)
    {
        var score = schema.GetColumnOrNull("Score") ?? throw new InvalidDataException($"{zipPath}: the model has no Score column.");
        if (!score.HasSlotNames()) throw new InvalidDataException($"{zipPath}: the Score column has no class names.");
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.GetSlotNames(ref names);
        return names.DenseValues().Select(name => name.ToString()).ToArray();
    }

    private sealed class EnginePolicy(MLContext mlContext, ITransformer model) : PooledObjectPolicy<PredictionEngine<TInput, ScoreOutput>>
    {
        public override PredictionEngine<TInput, ScoreOutput> Create() => mlContext.Model.CreatePredictionEngine<TInput, ScoreOutput>(model);

        public override bool Return(PredictionEngine<TInput, ScoreOutput> engine) => true;
    }
}
