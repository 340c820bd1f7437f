using Microsoft.ML.MixtureHeads.Diffusion;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Training;

/// <summary>The denoiser being trained and its EMA copy, as one module: checkpoints and best-weight restores keep both.</summary>
internal sealed class DenoiserWithEma : nn.Module
{
    /// <summary>The trained weights.</summary>
    public readonly MoHDiT model;

    /// <summary>The exponential moving average of <see cref="model"/>'s weights (no gradient; what sampling uses).</summary>
    public readonly MoHDiT ema;

    public DenoiserWithEma(MoHDiT model) : base(nameof(DenoiserWithEma))
    {
        this.model = model;
        ema = new MoHDiT(model.Config);
        EmaWeights.CopyInto(model, ema);
        foreach (var parameter in ema.parameters()) parameter.requires_grad = false;
        RegisterComponents();
    }
}

/// <summary>
/// DDPM's simple loss, as DiT trains: for images x_0 scaled to [-1, 1], a uniform timestep t, noise eps and
/// x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, the mean squared error of the predicted eps, or of the predicted
/// v = sqrt(abar_t) eps - sqrt(1 - abar_t) x_0 when the config's <see cref="DiTConfig.Prediction"/> says so (the loop
/// adds the weighted MoH balance loss). In training each label is replaced by the null class with probability
/// <paramref name="classDropout"/> (for classifier-free guidance); validation keeps the labels and draws t and eps from
/// the loop's fixed validation generator, so its loss is comparable across epochs. After every step the EMA weights move.
/// </summary>
internal sealed class DenoisingObjective(DenoiserWithEma networks, DiffusionSchedule schedule, double classDropout, double emaDecay)
    : ITrainingObjective<ClassificationBatch>, IStepObserver
{
    private readonly Tensor _alphasCumprod = tensor(Enumerable.Range(0, schedule.Steps).Select(t => (float)schedule.AlphaCumprod(t)).ToArray());

    /// <inheritdoc />
    public nn.Module Network => networks;

    /// <inheritdoc />
    public ValidationCriterion Criterion => ValidationCriterion.Loss;

    /// <inheritdoc />
    public ObjectiveResult Compute(ClassificationBatch batch, Device device, Generator generator)
    {
        var model = networks.model;
        var config = model.Config;
        var pixels = batch.Inputs.ToTensor(CPU);                                             // [B, C*H*W] or [B, C, H, W], in [0, 1]
        long rows = pixels.shape[0];
        var x0 = (pixels.reshape(rows, config.Channels, config.ImageSize, config.ImageSize) * Scalars.Of(2.0)).Plus(-1.0);
        var t = randint(0, schedule.Steps, [rows], generator: generator);                    // [B] int64
        var noise = randn(x0.shape, generator: generator);                                    // [B, C, H, W]
        var labels = tensor(batch.Labels);
        if (model.training && classDropout > 0)
        {
            var dropped = rand([rows], generator: generator).lt(Scalars.Of(classDropout));
            labels = where(dropped, full_like(labels, Scalars.Of((long)config.NullClass)), labels);
        }
        var abar = _alphasCumprod.index_select(0, t).view(rows, 1, 1, 1);
        var xt = abar.sqrt().mul(x0).Plus(abar.neg().Plus(1.0).sqrt().mul(noise));           // q(x_t | x_0)
        var output = model.call(new DiTInput(xt.to(device), t.to(ScalarType.Float32).to(device), labels.to(device)));
        var target = config.Prediction == PredictionTarget.Velocity ? abar.sqrt().mul(noise).sub(abar.neg().Plus(1.0).sqrt().mul(x0)) : noise;
        var loss = F.mse_loss(output.Output, target.to(device));
        return new ObjectiveResult(loss, output.BalanceLoss, output.HeadGates, rows, rows, Correct: null);
    }

    /// <inheritdoc />
    public void AfterStep(int step) => EmaWeights.Update(networks.model, networks.ema, EmaWeights.DecayAt(step, emaDecay));
}
