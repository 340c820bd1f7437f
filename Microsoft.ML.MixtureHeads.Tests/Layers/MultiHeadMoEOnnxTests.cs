using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// <see cref="MultiHeadMoE.EmitOnnx"/> run in ONNX Runtime against the TorchSharp eval forward. Each graph has a
/// symbolic batch and sequence length and runs first on one token, which reaches at most h * k &lt; E experts (so
/// some expert gets no row), then on 3 x 9 tokens (where every capacity case drops assignments).
/// </summary>
public sealed class MultiHeadMoEOnnxTests
{
    private const string Prefix = "blocks.1.moe";
    private const long Dim = 12;

    private static readonly (long Batch, long Tokens)[] Runs = [(1, 1), (3, 9)];

    private static readonly MultiHeadMoEOptions Smoe = new() { Dim = Dim, Heads = 1, Experts = 6, TopK = 1, ExpertHidden = 16 };
    private static readonly MultiHeadMoEOptions FineGrained = new() { Dim = Dim, Heads = 1, Experts = 8, TopK = 2, ExpertHidden = 8 };
    private static readonly MultiHeadMoEOptions H2 = new() { Dim = Dim, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 10 };
    private static readonly MultiHeadMoEOptions H3 = new() { Dim = Dim, Heads = 3, Experts = 12, TopK = 3, ExpertHidden = 8 };

    /// <summary>Configurations by name; the flag says whether capacity must really drop assignments in the larger run.</summary>
    private static readonly Dictionary<string, (MultiHeadMoEOptions Options, bool Drops)> Cases = new()
    {
        ["smoe"] = (Smoe, false),
        ["fine-grained"] = (FineGrained, false),
        ["h2"] = (H2, false),
        ["h3"] = (H3, false),
        ["h2 without projections"] = (H2 with { HeadProjections = false }, false),
        ["fine-grained renormalised"] = (FineGrained with { RenormalizeTopK = true }, false),
        ["h2 renormalised"] = (H2 with { RenormalizeTopK = true }, false),
        ["h3 renormalised"] = (H3 with { RenormalizeTopK = true }, false),
        ["smoe BitLinear"] = (Smoe with { ExpertLinear = LinearKind.BitLinear }, false),
        ["h2 BitLinear"] = (H2 with { ExpertLinear = LinearKind.BitLinear }, false),
        ["h3 BitLinear renormalised"] = (H3 with { ExpertLinear = LinearKind.BitLinear, RenormalizeTopK = true }, false),
        ["smoe capacity 1"] = (Smoe with { CapacityFactor = 1.0 }, true),
        ["h2 capacity 0.5"] = (H2 with { CapacityFactor = 0.5 }, true),
        ["h2 capacity 1.1"] = (H2 with { CapacityFactor = 1.1 }, true),
        ["h3 capacity 1 renormalised"] = (H3 with { CapacityFactor = 1.0, RenormalizeTopK = true }, true),
        ["h3 BitLinear capacity 0.75"] = (H3 with { ExpertLinear = LinearKind.BitLinear, CapacityFactor = 0.75 }, true),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Onnx_runtime_equals_the_eval_forward_at_two_batch_and_sequence_sizes(string name)
    {
        using var scope = NewDisposeScope();
        var (options, drops) = Cases[name];
        long batch = Runs.Max(r => r.Batch), tokens = Runs.Max(r => r.Tokens);
        // Routing is per sub-token, so slices of a tie-free input are tie-free too.
        var (layer, x) = MoECases.Create(options, [batch, tokens, Dim], seed: 700 + 10 * Cases.Keys.ToList().IndexOf(name));
        layer.eval();
        using var session = new OnnxSession(Emit(layer).ToBytes());

        using var noGrad = no_grad();
        foreach (var (b, n) in Runs)
        {
            var xRun = x[..(int)b, ..(int)n].contiguous();
            long assignments = b * n * options.Heads * options.TopK, computedRows = 0;
            var expertsWithRows = new HashSet<int>();
            layer.ExpertGroupComputed = (group, _) =>
            {
                computedRows += group.Rows.Sum();
                expertsWithRows.UnionWith(group.Experts);
            };
            var expected = layer.forward(xRun).Output;
            ParityAssert.Close($"{name}, B={b} N={n}", expected, session.Run(("x", xRun))["y"], Tolerance.Reduction);

            if (n == 1) Assert.True(expertsWithRows.Count < options.Experts, $"{name}: every expert got a row from one token");
            else if (drops) Assert.True(computedRows < assignments, $"{name}: capacity dropped nothing ({computedRows} of {assignments} kept)");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Every_parameter_is_an_initializer_under_its_state_dict_name(string name)
    {
        using var scope = NewDisposeScope();
        var layer = new MultiHeadMoE(Cases[name].Options);
        var model = Emit(layer).ToModel();
        foreach (var (key, value) in layer.state_dict())
        {
            var stored = model.FindInitializer($"{Prefix}.{key}");
            Assert.True(stored is not null, $"no initializer {Prefix}.{key}");
            Assert.Equal(value.shape, stored.Dims);
            Assert.Equal(value.data<float>().ToArray(), stored.ToFloats());
        }
    }

    [Theory]
    [InlineData(1.0, 1)]
    [InlineData(1.0, 3)]
    [InlineData(0.5, 2)]
    [InlineData(1.1, 2)]     // S = 13..15: 1.1 * 2 * 5 = 11.000000000000002 in double, so C = 12
    [InlineData(0.3, 3)]
    [InlineData(1.0 / 3, 2)]
    [InlineData(2.75, 1)]
    [InlineData(1e-3, 2)]
    public void The_capacity_computed_in_the_graph_equals_the_forward_capacity(double factor, long topK)
    {
        using var scope = NewDisposeScope();
        var layer = new MultiHeadMoE(new MultiHeadMoEOptions { Dim = 4, Experts = 3, TopK = topK, ExpertHidden = 2, CapacityFactor = factor });
        var graph = new OnnxGraphBuilder();
        string subTokens = graph.Input("sub_tokens", OnnxElementType.Float, "S", 1);
        graph.Output(ExpertDispatchOnnx.EmitCapacity(graph, subTokens, 3, factor * topK), "capacity", OnnxElementType.Int64, 1);
        using var session = new OnnxSession(graph.ToBytes());
        for (long s = 1; s <= 96; s++)
        {
            long inGraph = session.Run(("sub_tokens", zeros(s, 1)))["capacity"].item<long>();
            Assert.Equal(layer.Capacity(s), inGraph);
        }
    }

    private static OnnxGraphBuilder Emit(MultiHeadMoE layer)
    {
        var graph = new OnnxGraphBuilder();
        string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", Dim);
        graph.Output(layer.EmitOnnx(graph, new OnnxSequenceInput(input), Prefix), "y", OnnxElementType.Float, "batch", "tokens", Dim);
        return graph;
    }
}
