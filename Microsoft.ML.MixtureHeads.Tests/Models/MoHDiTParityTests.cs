using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>
/// MoH-DiT against the independent PyTorch reference (reference/dit_cases.py): the predicted noise, the balance loss
/// and the gradient of every parameter and of the input, for a dense DiT and two MoH ones; plus what DiT's
/// initialisation promises (a fresh model predicts zero noise) and typed errors for bad inputs.
/// </summary>
public sealed class MoHDiTParityTests
{
    public static TheoryData<string> Variants => ["dense", "moh_last_block_dense", "moh_every_block"];

    private static DiTConfig ConfigOf(string variant) => variant switch
    {
        "dense" => DiTTestData.Small,
        "moh_last_block_dense" => DiTTestData.SmallMoH,
        _ => DiTTestData.SmallMoHEveryBlock,
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Forward_balance_loss_and_every_gradient_match_the_reference(string variant)
    {
        using var scope = NewDisposeScope();
        var config = ConfigOf(variant);
        var (model, input) = DiTTestData.Generate(config, batch: 3, seed: 90);
        var gradY = randn(3, config.Channels, config.ImageSize, config.ImageSize);
        var settings = new Dictionary<string, object>
        {
            ["patch"] = config.PatchSize, ["frequency_size"] = config.FrequencyEmbeddingSize, ["training"] = true,
            ["blocks"] = Enumerable.Range(0, config.Depth).Select(i => config.AttentionOptionsOf(i)).Select(o => new Dictionary<string, object>
            {
                ["heads"] = o.Heads, ["shared"] = o.SharedHeads, ["topk"] = o.RoutedTopK, ["head_dim"] = o.ResolvedHeadDim,
                ["routing"] = o.Routing == HeadRouting.Dense ? "dense" : "learned",
            }).ToList(),
        };
        var inputs = LayerParity.Parameters(model);
        inputs["x"] = input.X;
        inputs["t"] = input.Timesteps;
        inputs["y"] = input.Labels;
        inputs["grad_y"] = gradY;
        var expected = PythonReference.Run(new ReferenceCase("moh_dit", settings, inputs));

        model.train();
        var x = LayerParity.Leaf(input.X);
        var output = model.forward(input with { X = x });
        var objective = (output.Output * gradY).sum();
        if (output.BalanceLoss is { } balance) objective = objective + balance * 0.01;
        objective.backward();
        var ours = new Dictionary<string, Tensor>(LayerParity.ParameterGradients(model)) { ["y"] = output.Output, ["grad/x"] = x.grad! };
        if (output.BalanceLoss is { } loss) ours["balance_loss"] = loss;

        Assert.Equal(variant != "dense", output.BalanceLoss is not null);
        Assert.Equal(expected.Keys.Order(), ours.Keys.Order());
        foreach (var (name, value) in ours)
            ParityAssert.Close($"{variant}: {name}", expected[name], value, name.StartsWith("grad/", StringComparison.Ordinal) ? Tolerance.Layer : Tolerance.Reduction);
        Assert.All(model.named_parameters(), p => Assert.True(p.parameter.grad!.abs().max().item<float>() > 0, $"{p.name} got no gradient"));
    }

    [Fact]
    public void A_fresh_model_predicts_zero_noise_and_its_blocks_start_as_the_identity()
    {
        using var scope = NewDisposeScope();
        manual_seed(91);
        using var model = new MoHDiT(DiTTestData.SmallMoH);
        var input = new DiTInput(randn(2, 1, 8, 8), tensor(new float[] { 3, 900 }), tensor(new long[] { 0, 3 }));
        using var noGrad = no_grad();
        Assert.Equal(0f, model.forward(input).Output.abs().max().item<float>());
        Assert.True(model.y_embedder.embedding_table.weight.std().item<float>() is > 0.015f and < 0.025f, "label table N(0, 0.02)");
    }

    [Fact]
    public void Bad_inputs_are_typed_errors_naming_what_is_wrong()
    {
        using var scope = NewDisposeScope();
        using var model = new MoHDiT(DiTTestData.Small);
        var good = new DiTInput(randn(2, 1, 8, 8), tensor(new float[] { 3, 9 }), tensor(new long[] { 0, 1 }));
        Assert.Contains("[B, 1, 8, 8]", Assert.Throws<ArgumentException>(() => model.forward(good with { X = randn(2, 1, 6, 8) })).Message);
        Assert.Contains("Timesteps", Assert.Throws<ArgumentException>(() => model.forward(good with { Timesteps = zeros(3) })).Message);
        Assert.Contains("int64", Assert.Throws<ArgumentException>(() => model.forward(good with { Labels = zeros(2) })).Message);
        Assert.Contains("null class", Assert.Throws<ArgumentOutOfRangeException>(() => model.forward(good with { Labels = tensor(new long[] { 0, 4 }) })).Message);
        Assert.Contains("DenseLastBlocks", Assert.Throws<ArgumentException>(() => new MoHDiT(DiTTestData.Small with { DenseLastBlocks = 3 })).Message);
    }
}
