namespace Microsoft.ML.MixtureHeads.Diffusion;

/// <summary>The contract of an exported DiT denoiser graph: its input and output names and the metadata a sampler reads.</summary>
public static class DiTDenoiserGraph
{
    /// <summary>Input: noisy images x_t, float [batch, C, H, W].</summary>
    public const string X = "x";

    /// <summary>Input: the timestep of each image, float [batch].</summary>
    public const string Timesteps = "t";

    /// <summary>Input: the class of each image, int64 [batch] (the class count = the null class).</summary>
    public const string Labels = "y";

    /// <summary>Output: the prediction (noise or velocity, as <see cref="PredictionKey"/> says), float [batch, C, H, W].</summary>
    public const string Prediction = "prediction";

    /// <summary>Metadata: what the output is, a <see cref="PredictionTarget"/> name ("Epsilon" or "Velocity").</summary>
    public const string PredictionKey = "mixtureheads.dit.prediction";

    /// <summary>Metadata: image channels.</summary>
    public const string ChannelsKey = "mixtureheads.dit.channels";

    /// <summary>Metadata: image height = width.</summary>
    public const string ImageSizeKey = "mixtureheads.dit.image_size";

    /// <summary>Metadata: class count (the null class's label).</summary>
    public const string ClassesKey = "mixtureheads.dit.classes";

    /// <summary>Metadata: the training schedule's steps T.</summary>
    public const string ScheduleStepsKey = "mixtureheads.dit.schedule_steps";

    /// <summary>Metadata: beta_0 of the linear schedule.</summary>
    public const string BetaStartKey = "mixtureheads.dit.beta_start";

    /// <summary>Metadata: beta_{T-1} of the linear schedule.</summary>
    public const string BetaEndKey = "mixtureheads.dit.beta_end";
}
