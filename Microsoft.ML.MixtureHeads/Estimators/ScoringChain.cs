using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>The columns the exported network reads and writes, and the classes it predicts.</summary>
/// <param name="InputColumn">The column fed to the ONNX graph (the graph input has this name).</param>
/// <param name="ScoreColumn">The probabilities output column (the graph output has this name).</param>
/// <param name="PredictedLabelColumn">The scalar key output column.</param>
/// <param name="ClassNames">Class names in label-key order; the graph has one probability output named by each.</param>
internal sealed record ScoringColumns(string InputColumn, string ScoreColumn, string PredictedLabelColumn, IReadOnlyList<string> ClassNames)
{
    /// <summary>The prefix of the temporary columns our stages add (and drop again).</summary>
    public const string ReservedPrefix = "__MoH_";

    /// <summary>Checks that every class name can name a column of its own.</summary>
    /// <exception cref="ArgumentException">A class name is empty, reserved, or equal to an output column's name.</exception>
    public void CheckClassNames(string labelColumn)
    {
        foreach (string name in ClassNames)
        {
            if (string.IsNullOrEmpty(name) || name.StartsWith(ReservedPrefix, StringComparison.Ordinal) || name == ScoreColumn || name == PredictedLabelColumn)
                throw new ArgumentException(
                    $"Label column '{labelColumn}' has the class '{name}': Score's slots are named by class, so a class cannot be empty, begin with " +
                    $"'{ReservedPrefix}' or be named like the output columns '{ScoreColumn}' and '{PredictedLabelColumn}' (set ScoreColumnName or " +
                    "PredictedLabelColumnName).",
                    nameof(labelColumn));
        }
    }
}

/// <summary>
/// Builds the saved part of a fitted model from ML.NET stages: the pre-processing stages, ML.NET's own
/// <c>OnnxTransformer</c> over our exported graph, each class's probability made a scalar column named by the class
/// (<see cref="ClassProbability"/>, between two column copies), <c>Concatenate</c> of those into <c>Score</c> - so its
/// slot names are the class names, as ML.NET's multiclass trainers give them - the predicted-label stages, and a drop of
/// every temporary column. <c>mlContext.Model.Save/Load</c> then need nothing of ours but the stateless stages of the
/// scoring package.
/// </summary>
internal static class ScoringChain
{
    private const string KeptPrefix = "__MoH_Kept";

    /// <summary>Fits the chain on <paramref name="input"/>'s schema.</summary>
    /// <param name="mlContext">Context that builds the stages.</param>
    /// <param name="input">Data with the user's columns (only its schema is used to fit).</param>
    /// <param name="preprocessing">Fitted stages that produce the network input, or null.</param>
    /// <param name="onnxModelFile">The exported graph on disk (see <see cref="Persistence.TemporaryModelFiles"/>); it must
    /// exist while the chain lives, since ML.NET reads it again when the model is saved.</param>
    /// <param name="columns">Input and output columns and the class names.</param>
    /// <param name="temporaryColumns">Columns the pre-processing adds, dropped at the end.</param>
    public static TransformerChain<ITransformer> Build(MLContext mlContext, IDataView input, ITransformer? preprocessing,
        string onnxModelFile, ScoringColumns columns, IReadOnlyList<string> temporaryColumns)
    {
        var stages = new List<ITransformer>();
        IDataView data = input;
        void Add(ITransformer stage)
        {
            stages.Add(stage);
            data = stage.Transform(data);
        }
        if (preprocessing is not null) Add(preprocessing);

        // A class named like one of the data's columns would hide it: keep a copy, restored once the class columns go.
        string[] classes = [.. columns.ClassNames];
        var kept = classes.Where(name => data.Schema.GetColumnOrNull(name) is not null)
            .Select((name, i) => (Column: name, Copy: $"{KeptPrefix}{i}")).ToArray();
        if (kept.Length > 0) Add(Copies(mlContext, kept.Select(k => (k.Copy, k.Column))).Fit(data));

        string[] classOutputs = [.. classes.Select((_, k) => ClassificationObjective.ClassOutput(k))];
        Add(mlContext.Transforms.ApplyOnnxModel([.. classOutputs, PredictedLabelMapping.IndexColumn], [columns.InputColumn], onnxModelFile).Fit(data));
        var toScalar = mlContext.Transforms.CustomMapping(new ClassProbability().GetMapping(), ClassProbability.ContractName);
        Add(classes.Select((name, k) => (name, k)).Aggregate((IEstimator<ITransformer>)new EstimatorChain<ITransformer>(), (chain, c) => chain
            .Append(mlContext.Transforms.CopyColumns(ClassProbability.VectorColumn, classOutputs[c.k]))
            .Append(toScalar)
            .Append(mlContext.Transforms.CopyColumns(c.name, ClassProbability.ScalarColumn))).Fit(data));
        Add(mlContext.Transforms.Concatenate(columns.ScoreColumn, classes).Fit(data));
        Add(mlContext.Transforms.DropColumns(classes).Fit(data));
        if (kept.Length > 0) Add(Copies(mlContext, kept.Select(k => (k.Column, k.Copy))).Fit(data));
        Add(PredictedLabelMapping.Fit(mlContext, data, columns.ClassNames, columns.PredictedLabelColumn));

        string[] drop = [.. temporaryColumns, .. kept.Select(k => k.Copy), .. classOutputs, ClassProbability.VectorColumn, ClassProbability.ScalarColumn,
            PredictedLabelMapping.IndexColumn, PredictedLabelMapping.HashColumn];
        Add(mlContext.Transforms.DropColumns(drop.Where(c => data.Schema.GetColumnOrNull(c) is not null).Distinct().ToArray()).Fit(data));
        return new TransformerChain<ITransformer>(stages.ToArray());
    }

    private static IEstimator<ITransformer> Copies(MLContext mlContext, IEnumerable<(string Output, string Input)> pairs) =>
        pairs.Aggregate((IEstimator<ITransformer>)new EstimatorChain<ITransformer>(), (chain, pair) => chain.Append(mlContext.Transforms.CopyColumns(pair.Output, pair.Input)));
}
