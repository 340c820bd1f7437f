using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// <see cref="MoHAttention.EmitOnnx"/> run in ONNX Runtime against the TorchSharp eval forward, for every routing and
/// the option variants of the reference parity tests. Each graph has a symbolic batch and sequence length and runs
/// at batch 1 and at a larger batch with another sequence length. Tolerance: matmuls and softmax reductions in both.
/// </summary>
public sealed class MoHAttentionOnnxTests
{
    /// <summary>One emission case: a layer configuration and the inputs it gets.</summary>
    public sealed record OnnxCase(MoHAttentionOptions Options, bool KeyPadding = false, bool Rotary = false);

    private const string Prefix = "blocks.0.attn";

    /// <summary>Every graph runs at these (batch, tokens), one after the other, in one session.</summary>
    private static readonly (long Batch, long Tokens)[] Runs = [(1, 7), (3, 12)];

    private static MoHAttentionOptions Learned(int dim, int heads, int shared, int topK, int? headDim = null) => new()
    {
        Dim = dim, Heads = heads, SharedHeads = shared, RoutedTopK = topK, HeadDim = headDim, Routing = HeadRouting.Learned,
    };

    private static MoHAttentionOptions ParameterFree(int dim, int heads, int shared, int topK) => new()
    {
        Dim = dim, Heads = heads, SharedHeads = shared, RoutedTopK = topK, Routing = HeadRouting.ParameterFree,
    };

    private static readonly MoHAttentionOptions Typical = Learned(64, 8, 2, 4);

    private static readonly Dictionary<string, OnnxCase> Cases = new()
    {
        ["Dense"] = new(new MoHAttentionOptions { Dim = 48, Heads = 6 }),
        ["Dense, causal + key padding"] = new(new MoHAttentionOptions { Dim = 48, Heads = 6, Causal = true }, KeyPadding: true),
        ["Dense, rotary causal"] = new(new MoHAttentionOptions { Dim = 32, Heads = 2, Causal = true }, Rotary: true),
        ["Learned dense-weighted (routed = 0)"] = new(Learned(32, 4, 4, 0)),
        ["Learned dense-weighted, one head"] = new(Learned(16, 1, 1, 0)),
        ["Learned shared = 0"] = new(Learned(48, 6, 0, 2)),
        ["Learned shared = 1"] = new(Learned(48, 6, 1, 2)),
        ["Learned K = E"] = new(Learned(48, 6, 2, 4)),
        ["Learned head_dim != C/H"] = new(Learned(40, 4, 2, 1, headDim: 12)),
        ["Learned typical"] = new(Typical),
        ["Learned without two-stage routing"] = new(Typical with { TwoStageRouting = false }),
        ["Learned without two-stage routing, shared = 1, half the routed heads"] = new(Learned(48, 6, 1, 2) with { TwoStageRouting = false }),
        ["Learned without biases"] = new(Typical with { QkvBias = false, ProjBias = false }),
        ["Learned BitLinear projections"] = new(Typical with { Linear = LinearKind.BitLinear }),
        ["Learned causal"] = new(Typical with { Causal = true }),
        ["Learned key padding"] = new(Typical, KeyPadding: true),
        ["Learned causal + key padding"] = new(Typical with { Causal = true }, KeyPadding: true),
        ["Learned rotary"] = new(Typical, Rotary: true),
        ["Learned rotary, causal + key padding"] = new(Typical with { Causal = true }, KeyPadding: true, Rotary: true),
        ["ParameterFree h_s=2 K=3"] = new(ParameterFree(64, 8, 2, 3)),
        ["ParameterFree shared = 0"] = new(ParameterFree(48, 6, 0, 2)),
        ["ParameterFree K = E"] = new(ParameterFree(48, 6, 2, 4)),
        ["ParameterFree BitLinear projections"] = new(ParameterFree(64, 8, 2, 3) with { Linear = LinearKind.BitLinear }),
        ["ParameterFree causal + key padding"] = new(ParameterFree(64, 8, 4, 2) with { Causal = true }, KeyPadding: true),
        ["ParameterFree rotary (router reads pre-rotary queries)"] = new(ParameterFree(64, 8, 2, 3), Rotary: true),
        ["Learned half the routed heads, no biases"] = new(Learned(64, 8, 2, 3) with { QkvBias = false, ProjBias = false }),
        ["Learned half the routed heads, rotary causal + key padding"] = new(Learned(64, 8, 2, 3) with { Causal = true }, KeyPadding: true, Rotary: true),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Onnx_runtime_equals_the_eval_forward_at_two_batch_and_sequence_sizes(string name) => AssertOnnxEqualsEvalForward(name, skipHeads: false);

    public static TheoryData<string> SkippingCaseNames() =>
        new(Cases.Where(c => SkipsHeads(c.Value.Options)).Select(c => c.Key));

    private static bool SkipsHeads(MoHAttentionOptions options)
    {
        using var layer = new MoHAttention(options) { SkipInactiveHeads = true };
        return layer.SkipsHeadsInOnnx;
    }

    /// <summary>The head-skipping graph (gathered query rows per routed head) against the official masked eval forward.</summary>
    [Theory]
    [MemberData(nameof(SkippingCaseNames))]
    public void Onnx_head_skipping_equals_the_masked_eval_forward(string name) => AssertOnnxEqualsEvalForward(name, skipHeads: true);

    [Fact]
    public void Head_skipping_is_emitted_only_where_at_most_half_the_routed_pairs_are_selected()
    {
        using var scope = NewDisposeScope();
        static bool GathersRows(MoHAttentionOptions options)
        {
            var layer = new MoHAttention(options) { SkipInactiveHeads = true };
            var graph = new OnnxGraphBuilder();
            string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", options.Dim);
            graph.Output(layer.EmitOnnx(graph, new OnnxSequenceInput(input), Prefix), "y", OnnxElementType.Float, "batch", "tokens", options.Dim);
            return graph.ToModel().Nodes.Any(n => n.OpType == "GatherElements");
        }
        Assert.True(GathersRows(Learned(64, 8, 2, 3)));                  // K/E = 1/2
        Assert.True(GathersRows(ParameterFree(48, 6, 0, 2)));
        Assert.False(GathersRows(Typical));                              // K/E = 2/3: the masked graph is faster
        Assert.False(GathersRows(Learned(48, 6, 2, 4)));                 // K = E: every routed pair is selected
        Assert.False(GathersRows(new MoHAttentionOptions { Dim = 48, Heads = 6 }));
    }

    private static void AssertOnnxEqualsEvalForward(string name, bool skipHeads)
    {
        using var scope = NewDisposeScope();
        var c = Cases[name];
        long batch = Runs.Max(r => r.Batch), tokens = Runs.Max(r => r.Tokens);
        // Routing is per token, so slices of a tie-free input are tie-free too.
        var (layer, x) = MoHTestData.Generate(c.Options, batch, tokens, seed: 300 + Cases.Keys.ToList().IndexOf(name));
        var padding = c.KeyPadding ? MoHTestData.KeyPadding(batch, tokens) : null;
        var rotary = c.Rotary ? new RotaryEmbedding(c.Options.ResolvedHeadDim, (int)tokens + 3) : null;
        layer.eval();
        var exported = new MoHAttention(c.Options) { SkipInactiveHeads = skipHeads };
        exported.load_state_dict(layer.state_dict());
        exported.eval();

        var graph = new OnnxGraphBuilder();
        string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", c.Options.Dim);
        string? mask = padding is null ? null : graph.Input("key_padding", OnnxElementType.Bool, "batch", "tokens");
        graph.Output(exported.EmitOnnx(graph, new OnnxSequenceInput(input, mask, rotary), Prefix), "y", OnnxElementType.Float, "batch", "tokens", c.Options.Dim);
        using var session = new OnnxSession(graph.ToBytes());

        using var noGrad = no_grad();
        foreach (var (b, n) in Runs)
        {
            var xRun = x[..(int)b, ..(int)n].contiguous();
            var paddingRun = padding?[..(int)b, ..(int)n].contiguous();
            var expected = layer.forward(new AttentionInput(xRun, paddingRun, rotary)).Output;
            (string, Tensor)[] inputs = paddingRun is null ? [("x", xRun)] : [("x", xRun), ("key_padding", paddingRun)];
            ParityAssert.Close($"{name}{(skipHeads ? ", skipping" : "")}, B={b} N={n}", expected, session.Run(inputs)["y"], Tolerance.Reduction);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Every_parameter_is_an_initializer_under_its_state_dict_name(string name)
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(Cases[name].Options);
        var graph = new OnnxGraphBuilder();
        string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", layer.Options.Dim);
        graph.Output(layer.EmitOnnx(graph, new OnnxSequenceInput(input), Prefix), "y", OnnxElementType.Float, "batch", "tokens", layer.Options.Dim);
        var model = graph.ToModel();
        foreach (var (key, value) in layer.state_dict())
        {
            var stored = model.FindInitializer($"{Prefix}.{key}");
            Assert.True(stored is not null, $"no initializer {Prefix}.{key}");
            Assert.Equal(value.shape, stored.Dims);
            Assert.Equal(value.data<float>().ToArray(), stored.ToFloats());
        }
    }

    [Fact]
    public void A_rotary_embedding_of_another_head_width_is_refused()
    {
        using var scope = NewDisposeScope();
        var layer = new MoHAttention(Typical);
        var graph = new OnnxGraphBuilder();
        string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", Typical.Dim);
        var error = Assert.Throws<ArgumentException>(() => layer.EmitOnnx(graph, new OnnxSequenceInput(input, Rotary: new RotaryEmbedding(16, 32)), Prefix));
        Assert.Equal("rotary", error.ParamName);
    }
}
