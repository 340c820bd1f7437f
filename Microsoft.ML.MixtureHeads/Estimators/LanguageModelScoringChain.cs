using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>The output columns of a language-model scorer.</summary>
internal sealed record LanguageModelScoringColumns(string LogLikelihood, string Perplexity, string TokenCount)
{
    /// <summary>Each output column with the graph output (a one-value vector per row) it is made from.</summary>
    public IEnumerable<(string Column, string GraphOutput)> Outputs =>
        [(LogLikelihood, "__MoH_LogLikelihood"), (Perplexity, "__MoH_Perplexity"), (TokenCount, "__MoH_TokenCount")];
}

/// <summary>
/// The saved form of a language-model scorer: the stateless byte tokenization stage, ML.NET's <c>OnnxTransformer</c> over
/// a graph that maps the stage's ids to each row's score (<see cref="CausalLMLikelihood.EmitOnnx"/>), each score made a
/// scalar column by the scoring package's one-value stage (<see cref="ClassProbability"/>) between two column copies, and
/// a drop of every temporary column.
/// </summary>
internal static class LanguageModelScoringChain
{
    /// <summary>The scoring graph of <paramref name="model"/> (in eval mode): input the byte stage's ids, outputs the three
    /// scores [batch]; the metadata records the model kind and config as every exported model does.</summary>
    public static byte[] Export(MoHCausalLM model, LanguageModelScoringColumns columns)
    {
        var g = new OnnxGraphBuilder();
        string ids = g.Input(TextTokenization.TokenIdsColumn, OnnxElementType.Int64, "batch", "sequence");
        var (logLikelihood, count) = CausalLMLikelihood.EmitOnnx(model, g, ids);
        var outputs = columns.Outputs.Select(o => o.GraphOutput).ToArray();
        g.Output(logLikelihood, outputs[0], OnnxElementType.Float, "batch");
        g.Output(g.Exp(g.Neg(logLikelihood)), outputs[1], OnnxElementType.Float, "batch");
        g.Output(count, outputs[2], OnnxElementType.Float, "batch");
        g.SetMetadata(ExportedModel.FormatKey, ExportedModel.FormatVersion);
        g.SetMetadata(ExportedModel.KindKey, model.Kind);
        g.SetMetadata(ExportedModel.ConfigKey, ModelJson.Serialize(model.Config));
        return g.ToBytes();
    }

    /// <summary>Fits the chain on <paramref name="input"/>'s schema; <paramref name="onnxModelFile"/> must live as long as the chain.</summary>
    public static TransformerChain<ITransformer> Build(MLContext mlContext, IDataView input, DataViewSchema.Column text, string onnxModelFile, LanguageModelScoringColumns columns)
    {
        var stages = new List<ITransformer>();
        IDataView data = input;
        void Add(ITransformer stage)
        {
            stages.Add(stage);
            data = stage.Transform(data);
        }
        var (tokenize, idsColumn, temporary) = TextInput.ByteStages(mlContext, text);
        Add(tokenize.Fit(data));
        var outputs = columns.Outputs.ToArray();
        Add(mlContext.Transforms.ApplyOnnxModel([.. outputs.Select(o => o.GraphOutput)], [idsColumn], onnxModelFile).Fit(data));
        var toScalar = mlContext.Transforms.CustomMapping(new ClassProbability().GetMapping(), ClassProbability.ContractName);
        Add(outputs.Aggregate((IEstimator<ITransformer>)new EstimatorChain<ITransformer>(), (chain, o) => chain
            .Append(mlContext.Transforms.CopyColumns(ClassProbability.VectorColumn, o.GraphOutput))
            .Append(toScalar)
            .Append(mlContext.Transforms.CopyColumns(o.Column, ClassProbability.ScalarColumn))).Fit(data));
        string[] drop = [.. temporary, .. outputs.Select(o => o.GraphOutput), ClassProbability.VectorColumn, ClassProbability.ScalarColumn];
        Add(mlContext.Transforms.DropColumns(drop.Where(c => data.Schema.GetColumnOrNull(c) is not null).Distinct().ToArray()).Fit(data));
        return new TransformerChain<ITransformer>(stages.ToArray());
    }
}
