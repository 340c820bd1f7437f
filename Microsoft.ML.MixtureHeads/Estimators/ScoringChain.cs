using Microsoft.ML.Data;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>The columns the exported network reads and writes, and the classes it predicts.</summary>
/// <param name="InputColumn">The column fed to the ONNX graph (the graph input has this name).</param>
/// <param name="ScoreColumn">The probabilities output column (the graph output has this name).</param>
/// <param name="PredictedLabelColumn">The scalar key output column.</param>
/// <param name="ClassNames">Class names in label-key order.</param>
internal sealed record ScoringColumns(string InputColumn, string ScoreColumn, string PredictedLabelColumn, IReadOnlyList<string> ClassNames);

/// <summary>
/// Builds the saved part of a fitted model from standard ML.NET stages only: the pre-processing stages, ML.NET's own
/// <c>OnnxTransformer</c> over our exported graph, the predicted-label stages, and a drop of every temporary column.
/// <c>mlContext.Model.Save/Load</c> then need nothing of ours but the stateless image decoder's contract.
/// </summary>
internal static class ScoringChain
{
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
        if (preprocessing is not null)
        {
            stages.Add(preprocessing);
            data = preprocessing.Transform(data);
        }

        var onnx = mlContext.Transforms.ApplyOnnxModel([columns.ScoreColumn, PredictedLabelMapping.IndexColumn], [columns.InputColumn], onnxModelFile).Fit(data);
        stages.Add(onnx);
        data = onnx.Transform(data);

        var predictedLabel = PredictedLabelMapping.Fit(mlContext, data, columns.ClassNames, columns.PredictedLabelColumn);
        stages.Add(predictedLabel);
        data = predictedLabel.Transform(data);

        string[] drop = [.. temporaryColumns, PredictedLabelMapping.IndexColumn, PredictedLabelMapping.HashColumn];
        stages.Add(mlContext.Transforms.DropColumns(drop.Where(c => data.Schema.GetColumnOrNull(c) is not null).Distinct().ToArray()).Fit(data));
        return new TransformerChain<ITransformer>(stages.ToArray());
    }
}
