using System.Globalization;
using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// Saves a <see cref="MoHDiT"/> as an ONNX denoiser graph (inputs x, t, y; output the noise or velocity prediction) that
/// <see cref="OnnxDiTGenerator"/> in the scoring package samples from without TorchSharp. Besides every weight under
/// its TorchSharp name, the metadata holds the model kind and config (as every exported model), the image size, the
/// class count, the prediction target and the noise schedule.
/// </summary>
public static class DiTOnnx
{
    /// <summary>The eval-mode denoiser of <paramref name="model"/> as ONNX bytes, with the schedule it was trained on.</summary>
    public static byte[] Export(MoHDiT model, DiffusionSchedule? schedule = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        schedule ??= DiffusionSchedule.Default;
        var config = model.Config;
        var graph = new OnnxGraphBuilder();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            string prediction = model.EmitOnnx(graph, DiTDenoiserGraph.X, DiTDenoiserGraph.Timesteps, DiTDenoiserGraph.Labels);
            graph.Output(prediction, DiTDenoiserGraph.Prediction, OnnxElementType.Float, "batch", config.Channels, config.ImageSize, config.ImageSize);
        }
        finally
        {
            if (wasTraining) model.train();
        }
        graph.SetMetadata(ExportedModel.FormatKey, ExportedModel.FormatVersion);
        graph.SetMetadata(ExportedModel.KindKey, model.Kind);
        graph.SetMetadata(ExportedModel.ConfigKey, ModelJson.Serialize(config));
        void Set(string key, IFormattable value) => graph.SetMetadata(key, value.ToString(null, CultureInfo.InvariantCulture));
        Set(DiTDenoiserGraph.ChannelsKey, config.Channels);
        Set(DiTDenoiserGraph.ImageSizeKey, config.ImageSize);
        Set(DiTDenoiserGraph.ClassesKey, config.Classes);
        graph.SetMetadata(DiTDenoiserGraph.PredictionKey, config.Prediction.ToString());
        Set(DiTDenoiserGraph.ScheduleStepsKey, schedule.Steps);
        graph.SetMetadata(DiTDenoiserGraph.BetaStartKey, schedule.BetaStart.ToString("R", CultureInfo.InvariantCulture));
        graph.SetMetadata(DiTDenoiserGraph.BetaEndKey, schedule.BetaEnd.ToString("R", CultureInfo.InvariantCulture));
        return graph.ToBytes();
    }
}
