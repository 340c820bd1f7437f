using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// MultiHeadMoE against the naive PyTorch reference (reference/mhmoe_cases.py): output, balance loss, expert load,
/// the input's gradient and every parameter's gradient (router included) for the objective
/// sum(y * grad_y) + 0.01 * balance_loss.
/// </summary>
public sealed class MultiHeadMoEParityTests
{
    private const double BalanceWeight = 0.01;
    private static readonly long[] InputShape = [2, 9, 12];

    private static readonly MultiHeadMoEOptions Smoe = new() { Dim = 12, Heads = 1, Experts = 6, TopK = 1, ExpertHidden = 16 };
    private static readonly MultiHeadMoEOptions FineGrained = new() { Dim = 12, Heads = 1, Experts = 8, TopK = 2, ExpertHidden = 8 };
    private static readonly MultiHeadMoEOptions H2 = new() { Dim = 12, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 10 };
    private static readonly MultiHeadMoEOptions H3 = new() { Dim = 12, Heads = 3, Experts = 9, TopK = 3, ExpertHidden = 8 };

    /// <summary>Configurations by name; the flag says whether capacity must really drop assignments.</summary>
    private static readonly Dictionary<string, (MultiHeadMoEOptions Options, bool Drops)> Configurations = new()
    {
        ["smoe"] = (Smoe, false),
        ["fine-grained"] = (FineGrained, false),
        ["h2"] = (H2, false),
        ["h3"] = (H3, false),
        ["h2-without-projections"] = (H2 with { HeadProjections = false }, false),
        ["smoe-capacity"] = (Smoe with { CapacityFactor = 1.0 }, true),
        ["h2-capacity"] = (H2 with { CapacityFactor = 0.5 }, true),
        ["h3-capacity"] = (H3 with { CapacityFactor = 1.0 }, true),
        ["h2-renormalised"] = (H2 with { RenormalizeTopK = true }, false),
        ["h3-renormalised-capacity"] = (H3 with { RenormalizeTopK = true, CapacityFactor = 0.75 }, true),
        ["smoe-bitlinear"] = (Smoe with { ExpertLinear = LinearKind.BitLinear }, false),
        ["h2-bitlinear"] = (H2 with { ExpertLinear = LinearKind.BitLinear }, false),
        ["h3-bitlinear-capacity"] = (H3 with { ExpertLinear = LinearKind.BitLinear, CapacityFactor = 1.0 }, true),
    };

    public static TheoryData<string> ConfigurationNames => new(Configurations.Keys);

    [Theory]
    [MemberData(nameof(ConfigurationNames))]
    public void Matches_reference(string configuration)
    {
        using var scope = NewDisposeScope();
        var (options, drops) = Configurations[configuration];
        var cases = new[] { 100, 300 }.Select(seed =>
        {
            var (layer, x) = MoECases.Create(options, InputShape, seed);
            var inputs = LayerParity.Parameters(layer);
            inputs["x"] = x;
            inputs["grad_y"] = randn(InputShape);
            return (Layer: layer, Inputs: inputs);
        }).ToList();
        var settings = new Dictionary<string, object>
        {
            ["dim"] = options.Dim, ["heads"] = options.Heads, ["experts"] = options.Experts, ["top_k"] = options.TopK,
            ["head_projections"] = options.UsesHeadProjections, ["renormalize"] = options.RenormalizeTopK,
            ["bitlinear"] = options.ExpertLinear == LinearKind.BitLinear, ["balance_weight"] = BalanceWeight,
        };
        if (options.CapacityFactor is { } factor) settings["capacity_factor"] = factor;
        var reference = PythonReference.Run(cases.Select(c => new ReferenceCase("mhmoe", settings, c.Inputs)).ToList());

        for (int i = 0; i < cases.Count; i++)
        {
            var (layer, inputs) = cases[i];
            long computedRows = 0;
            layer.ExpertGroupComputed = (group, _) => computedRows += group.Rows.Sum();
            var x = LayerParity.Leaf(inputs["x"]);
            var result = layer.forward(x);
            Assert.NotNull(result.BalanceLoss);
            ((result.Output * inputs["grad_y"]).sum() + BalanceWeight * result.BalanceLoss!).backward();

            var ours = LayerParity.ParameterGradients(layer);
            ours["y"] = result.Output;
            ours["balance_loss"] = result.BalanceLoss!;
            ours["expert_load"] = result.ExpertLoad;
            ours["grad/x"] = x.grad!;
            LayerParity.AssertMatches($"{configuration}#{i}", reference[i], ours, Tolerance.Layer);

            long keptByReference = (long)reference[i]["kept_assignments"].item<float>();
            long assignments = InputShape[0] * InputShape[1] * options.Heads * options.TopK;
            Assert.Equal(keptByReference, computedRows);
            if (drops) Assert.True(keptByReference < assignments, $"{configuration}#{i}: capacity dropped nothing ({keptByReference} of {assignments} kept)");
        }
    }
}
