namespace Microsoft.ML.MixtureHeads.Samples.WebApp;

/// <summary>A saved classifier named once at start-up and loaded on first use, by one thread, as Model Builder's
/// generated <c>Predict</c> helpers do; scoring is thread-safe through <see cref="PooledClassifier{TInput}"/>.</summary>
/// <typeparam name="TInput">The model's input row.</typeparam>
/// <param name="what">What the model classifies, for messages ("image", "spam").</param>
public sealed class LazyModel<TInput>(string what) where TInput : class, new()
{
    private readonly Lock _gate = new();
    private Lazy<PooledClassifier<TInput>>? _model;
    private string? _path;

    /// <summary>Names the saved model; calling it again with another path is an error.</summary>
    /// <exception cref="InvalidOperationException">Another path was named before.</exception>
    public void UseModel(string zipPath)
    {
        string path = Path.GetFullPath(zipPath);
        lock (_gate)
        {
            if (_path is not null && _path != path) throw new InvalidOperationException($"The {what} model is already {_path}.");
            _path = path;
            _model ??= new Lazy<PooledClassifier<TInput>>(() => new PooledClassifier<TInput>(path), LazyThreadSafetyMode.ExecutionAndPublication);
        }
    }

    /// <summary>Whether a model was named.</summary>
    public bool IsConfigured => _model is not null;

    /// <summary>The loaded model (loaded now if it was not yet).</summary>
    /// <exception cref="InvalidOperationException">No model was named.</exception>
    public PooledClassifier<TInput> Model => (_model ?? throw new InvalidOperationException($"No {what} model: call UseModel(path) first.")).Value;

    /// <summary>The class probabilities of one input, with the <paramref name="top"/> most probable classes first.</summary>
    public ClassPrediction Predict(TInput input, int top = 5) => ClassPrediction.From(Model.Score(input), Model.ClassNames, top);
}
