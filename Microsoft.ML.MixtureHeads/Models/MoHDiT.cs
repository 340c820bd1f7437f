using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>What a <see cref="MoHDiT"/> reads.</summary>
/// <param name="X">Noisy images x_t [B, C, H, W], pixels scaled to [-1, 1] before noising.</param>
/// <param name="Timesteps">Diffusion step t of each image [B] (float or int64; 0 = almost clean).</param>
/// <param name="Labels">Class of each image [B] int64, 0 .. Classes - 1, or Classes for the null (unconditional) class.</param>
public sealed record DiTInput(Tensor X, Tensor Timesteps, Tensor Labels);

/// <summary>
/// A class-conditional diffusion transformer (DiT, Peebles and Xie 2023) whose attention is Mixture-of-Head attention,
/// as the official MoH-DiT <c>models.py</c>: patchify, fixed 2-D sin-cos positions, c = timestep embedding + label
/// embedding (with a null class for classifier-free guidance), blocks conditioned adaLN-Zero style, a final adaLN +
/// linear layer, unpatchify. Predicts the noise epsilon or the velocity, as <see cref="DiTConfig.Prediction"/> says ([B, C, H, W]; <c>learn_sigma</c> off). Weights start as
/// DiT's <c>initialize_weights</c>: xavier-uniform linears (MoH routers included), N(0, 0.02) label table and timestep
/// MLP, zero modulation and zero output layer. Parameter names follow the official code: <c>x_embedder</c>,
/// <c>t_embedder</c>, <c>y_embedder</c>, <c>blocks</c>, <c>final_layer</c>.
/// Differs from the official code in one point: the MLP's GELU is exact, not the tanh approximation.
/// </summary>
public sealed class MoHDiT : MixtureHeadsNetwork<DiTInput, DiTConfig>
{
    /// <summary>The <see cref="Kind"/> recorded in exported models.</summary>
    public const string KindName = "diffusion_transformer";

    /// <summary>Image to patch tokens [B, C, H, W] -> [B, N, D].</summary>
    public readonly PatchEmbedding x_embedder;

    /// <summary>Timestep [B] -> [B, D].</summary>
    public readonly TimestepEmbedder t_embedder;

    /// <summary>Label [B] -> [B, D]; row <see cref="DiTConfig.NullClass"/> is the null class.</summary>
    public readonly LabelEmbedder y_embedder;

    /// <summary>The conditioned transformer blocks.</summary>
    public readonly ModuleList<TransformerBlock> blocks;

    /// <summary>adaLN-modulated norm and the linear to patch pixels.</summary>
    public readonly DiTFinalLayer final_layer;

    private readonly float[] _positions;

    /// <inheritdoc />
    public override string Kind => KindName;

    /// <summary>Builds a freshly initialised model (DiT's initialisation).</summary>
    /// <exception cref="ArgumentException">The configuration is invalid (the message names the property).</exception>
    public MoHDiT(DiTConfig config) : base(nameof(MoHDiT), config)
    {
        int patchPixels = config.PatchSize * config.PatchSize * config.Channels;
        x_embedder = new PatchEmbedding(config.Channels, config.Dim, config.PatchSize);
        t_embedder = new TimestepEmbedder(config.Dim, config.FrequencyEmbeddingSize);
        y_embedder = new LabelEmbedder(config.Classes, config.Dim);
        blocks = new ModuleList<TransformerBlock>(Enumerable.Range(0, config.Depth).Select(i => new TransformerBlock(new TransformerBlockOptions
        {
            Attention = config.AttentionOptionsOf(i),
            FeedForward = config.FeedForwardOptions,
            ConditionDim = config.Dim,
        })).ToArray());
        final_layer = new DiTFinalLayer(config.Dim, patchPixels);
        _positions = DiTPositions.Table(config.Dim, config.PatchesPerSide);
        RegisterComponents();
        InitialiseLikeDiT();
    }

    /// <summary>The predicted noise for <paramref name="input"/>.</summary>
    /// <returns>Output: the prediction (epsilon or v) [B, C, H, W]; the balance loss (training, routed heads); every block's head gates.</returns>
    /// <exception cref="ArgumentException">An input has the wrong shape or type (the message names it).</exception>
    public override NetworkOutput forward(DiTInput input)
    {
        CheckInput(input);
        var config = Config;
        var x = x_embedder.call(input.X);                                                    // [B, N, D]
        x = x.Plus(tensor(_positions, [1, x.shape[1], config.Dim], device: x.device));
        var c = t_embedder.call(input.Timesteps).Plus(y_embedder.call(input.Labels));         // [B, D]
        (x, var balanceLoss, var gates) = BlockStack.Forward(blocks, new AttentionInput(x), c);
        x = final_layer.call(x, c);                                                          // [B, N, p*p*C]
        return new NetworkOutput(Unpatchify(x), balanceLoss, gates);                         // [B, C, H, W]
    }

    /// <summary>[B, N, p*p*C] -> [B, C, H, W], as DiT's <c>unpatchify</c> (patch pixels ordered row, column, channel).</summary>
    private Tensor Unpatchify(Tensor x)
    {
        var config = Config;
        int p = config.PatchSize, side = config.PatchesPerSide, channels = config.Channels;
        return x.reshape(x.shape[0], side, side, p, p, channels)
                .permute(0, 5, 1, 3, 2, 4)                                                   // [B, C, h, p, w, p]
                .reshape(x.shape[0], channels, side * p, side * p);
    }

    /// <summary>Declares the inputs <c>x</c> (float [batch, C, H, W]), <c>t</c> (float [batch]) and <c>y</c> (int64 [batch]),
    /// named by <paramref name="inputNames"/> in that order, and emits the eval-mode forward; returns the prediction [batch, C, H, W].</summary>
    public override string EmitOnnx(OnnxGraphBuilder graph, params string[] inputNames)
    {
        if (inputNames is not [var xName, var tName, var yName])
            throw new ArgumentException($"{nameof(MoHDiT)} reads three inputs (x, t, y); got {inputNames.Length} names.", nameof(inputNames));
        var config = Config;
        int p = config.PatchSize, side = config.PatchesPerSide, channels = config.Channels;
        string images = graph.Input(xName, OnnxElementType.Float, "batch", channels, config.ImageSize, config.ImageSize);
        string t = graph.Input(tName, OnnxElementType.Float, "batch");
        string y = graph.Input(yName, OnnxElementType.Int64, "batch");

        string x = x_embedder.EmitOnnx(graph, images, "x_embedder");                                    // [B, N, D]
        x = graph.Add(x, graph.Constant(_positions, 1, side * side, config.Dim));
        string c = graph.Add(t_embedder.EmitOnnx(graph, t, "t_embedder"), y_embedder.EmitOnnx(graph, y, "y_embedder"));   // [B, D]
        x = BlockStack.EmitOnnx(blocks, graph, new OnnxSequenceInput(x, Condition: c));
        x = final_layer.EmitOnnx(graph, x, c, "final_layer");                                          // [B, N, p*p*C]
        x = graph.Transpose(graph.Reshape(x, 0, side, side, p, p, channels), 0, 5, 1, 3, 2, 4);          // [B, C, h, p, w, p]
        return graph.Reshape(x, 0, channels, side * p, side * p);                                      // [B, C, H, W]
    }

    private void CheckInput(DiTInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var config = Config;
        var x = input.X ?? throw new ArgumentNullException(nameof(input), "DiTInput.X is null.");
        if (x.dim() != 4 || x.shape[0] < 1 || x.shape[1] != config.Channels || x.shape[2] != config.ImageSize || x.shape[3] != config.ImageSize || !x.is_floating_point())
            throw new ArgumentException($"DiTInput.X must be float images [B, {config.Channels}, {config.ImageSize}, {config.ImageSize}]; got {x.dtype} [{string.Join(", ", x.shape)}].", nameof(input));
        long batch = x.shape[0];
        if (input.Timesteps is not { } t || t.dim() != 1 || t.shape[0] != batch)
            throw new ArgumentException($"DiTInput.Timesteps must be [B] = [{batch}]; got [{string.Join(", ", input.Timesteps?.shape ?? [])}].", nameof(input));
        if (input.Labels is not { } y || y.dim() != 1 || y.shape[0] != batch || y.dtype != ScalarType.Int64)
            throw new ArgumentException($"DiTInput.Labels must be int64 [B] = [{batch}]; got {input.Labels?.dtype} [{string.Join(", ", input.Labels?.shape ?? [])}].", nameof(input));
        if (y.numel() > 0 && (y.min().item<long>() < 0 || y.max().item<long>() > config.NullClass))
            throw new ArgumentOutOfRangeException(nameof(input), $"DiTInput.Labels must lie in [0, {config.NullClass}] ({config.NullClass} = the null class); got [{y.min().item<long>()}, {y.max().item<long>()}].");
    }

    /// <summary>DiT's <c>initialize_weights</c>, routers included in the xavier-uniform linears (MoH-DiT).</summary>
    private void InitialiseLikeDiT()
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (parameter.dim() == 2 && name.EndsWith("weight", StringComparison.Ordinal)) nn.init.xavier_uniform_(parameter);
            else if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.zero_();
        }
        var patch = x_embedder.proj.weight;                                   // xavier of the [D, C*p*p] view
        double bound = Math.Sqrt(6.0 / (patch.shape[0] + patch.shape[1] * patch.shape[2] * patch.shape[3]));
        patch.uniform_(-bound, bound);
        y_embedder.embedding_table.weight.normal_(0, 0.02);
        t_embedder.First.weight.normal_(0, 0.02);
        t_embedder.Second.weight.normal_(0, 0.02);
        foreach (var block in blocks)
        {
            block.adaLN_modulation!.Linear.weight.zero_();
            block.adaLN_modulation.Linear.bias!.zero_();
        }
        final_layer.adaLN_modulation.Linear.weight.zero_();
        final_layer.adaLN_modulation.Linear.bias!.zero_();
        final_layer.linear.weight.zero_();
        final_layer.linear.bias!.zero_();
    }
}
