using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// <see cref="TransformerBlock.EmitOnnx"/> with dense (GELU MLP, SwiGLU) and expert (SMoE, MH-MoE) feed-forward
/// networks and either norm, run in ONNX Runtime against the block's eval forward, with a symbolic batch and sequence length.
/// </summary>
public sealed class TransformerBlockOnnxTests
{
    /// <summary>One block configuration and the inputs it gets.</summary>
    public sealed record BlockCase(TransformerBlockOptions Options, bool KeyPadding = false, bool Rotary = false);

    private static readonly (long Batch, long Tokens)[] Runs = [(1, 6), (2, 9)];

    private static readonly MoHAttentionOptions LearnedAttention = new()
    {
        Dim = 32, Heads = 4, SharedHeads = 1, RoutedTopK = 2, Routing = HeadRouting.Learned,
    };

    private static readonly Dictionary<string, BlockCase> Cases = new()
    {
        ["GeluMlp + LayerNorm, Learned MoH"] = new(new()
        {
            Attention = LearnedAttention, FeedForward = new() { Kind = FeedForwardKind.GeluMlp, Hidden = 64 },
        }),
        ["SwiGLU + RMSNorm, Learned MoH, causal + key padding, rotary"] = new(new()
        {
            Attention = LearnedAttention with { Causal = true }, FeedForward = new() { Kind = FeedForwardKind.SwiGLU, Hidden = 48 },
            UseRmsNorm = true,
        }, KeyPadding: true, Rotary: true),
        ["GeluMlp + RMSNorm, dense attention"] = new(new()
        {
            Attention = new() { Dim = 32, Heads = 4 }, FeedForward = new() { Kind = FeedForwardKind.GeluMlp, Hidden = 64 }, UseRmsNorm = true,
        }),
        ["SwiGLU + LayerNorm, ParameterFree MoH, key padding"] = new(new()
        {
            Attention = new() { Dim = 32, Heads = 4, RoutedTopK = 2, Routing = HeadRouting.ParameterFree },
            FeedForward = new() { Kind = FeedForwardKind.SwiGLU, Hidden = 48 },
        }, KeyPadding: true),
        ["MH-MoE h=2 + RMSNorm, Learned MoH, causal + key padding, rotary"] = new(new()
        {
            Attention = LearnedAttention with { Causal = true },
            FeedForward = new()
            {
                Kind = FeedForwardKind.MultiHeadMoE,
                MoE = new MultiHeadMoEOptions { Dim = 32, Heads = 2, Experts = 8, TopK = 2, ExpertHidden = 24 },
            },
            UseRmsNorm = true,
        }, KeyPadding: true, Rotary: true),
        ["MH-MoE h=4 renormalised top-3 with capacity + LayerNorm, dense attention"] = new(new()
        {
            Attention = new() { Dim = 32, Heads = 4 },
            FeedForward = new()
            {
                Kind = FeedForwardKind.MultiHeadMoE,
                MoE = new MultiHeadMoEOptions { Dim = 32, Heads = 4, Experts = 12, TopK = 3, ExpertHidden = 16, RenormalizeTopK = true, CapacityFactor = 1.0 },
            },
        }),
        ["SMoE with BitLinear experts + RMSNorm, ParameterFree MoH with BitLinear projections"] = new(new()
        {
            Attention = new() { Dim = 32, Heads = 4, RoutedTopK = 2, Routing = HeadRouting.ParameterFree, Linear = LinearKind.BitLinear },
            FeedForward = new()
            {
                Kind = FeedForwardKind.MultiHeadMoE,
                MoE = new MultiHeadMoEOptions { Dim = 32, Experts = 4, TopK = 1, ExpertHidden = 48, ExpertLinear = LinearKind.BitLinear },
            },
            UseRmsNorm = true,
        }),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Onnx_runtime_equals_the_eval_forward(string name)
    {
        using var scope = NewDisposeScope();
        var c = Cases[name];
        int dim = c.Options.Attention.Dim;
        long batch = Runs.Max(r => r.Batch), tokens = Runs.Max(r => r.Tokens);
        var rotary = c.Rotary ? new RotaryEmbedding(c.Options.Attention.ResolvedHeadDim, (int)tokens) : null;
        var (block, x, padding) = Generate(c, batch, tokens, rotary, seed: 500 + Cases.Keys.ToList().IndexOf(name));

        var graph = new OnnxGraphBuilder();
        string input = graph.Input("x", OnnxElementType.Float, "batch", "tokens", dim);
        string? mask = padding is null ? null : graph.Input("key_padding", OnnxElementType.Bool, "batch", "tokens");
        graph.Output(block.EmitOnnx(graph, new OnnxSequenceInput(input, mask, rotary), "blocks.1"), "y", OnnxElementType.Float, "batch", "tokens", dim);
        var model = graph.ToModel();
        foreach (var key in block.state_dict().Keys) Assert.NotNull(model.FindInitializer($"blocks.1.{key}"));
        using var session = new OnnxSession(graph.ToBytes());

        using var noGrad = no_grad();
        foreach (var (b, n) in Runs)
        {
            var xRun = x[..(int)b, ..(int)n].contiguous();
            var paddingRun = padding?[..(int)b, ..(int)n].contiguous();
            var expected = block.forward(new AttentionInput(xRun, paddingRun, rotary)).X;
            (string, Tensor)[] inputs = paddingRun is null ? [("x", xRun)] : [("x", xRun), ("key_padding", paddingRun)];
            ParityAssert.Close($"{name}, B={b} N={n}", expected, session.Run(inputs)["y"], Tolerance.Reduction);
        }
    }

    /// <summary>A block in eval mode with every parameter spread out (norm gains near 1), an input [B, N, C] and, when the
    /// case asks for one, a key padding mask, such that neither the head routing nor, in every run, the expert routing
    /// has a near tie; reseeds until it finds them.</summary>
    private static (TransformerBlock Block, Tensor X, Tensor? Padding) Generate(BlockCase c, long batch, long tokens, RotaryEmbedding? rotary, int seed)
    {
        var options = c.Options;
        for (int attempt = 0; attempt < 50; attempt++)
        {
            manual_seed(seed + 7919 * attempt);
            var block = new TransformerBlock(options);
            block.eval();
            using (no_grad())
            {
                foreach (var (name, parameter) in block.named_parameters())
                {
                    if (name.StartsWith("norm", StringComparison.Ordinal) && name.EndsWith("weight", StringComparison.Ordinal)) parameter.normal_(1, 0.1);
                    else if (name.EndsWith("bias", StringComparison.Ordinal)) parameter.normal_(0, 0.1);
                    else parameter.normal_(0, 1.0 / Math.Sqrt(parameter.shape[1]));
                }
            }
            var x = randn(batch, tokens, options.Attention.Dim);
            var padding = c.KeyPadding ? MoHTestData.KeyPadding(batch, tokens) : null;
            using var noGrad = no_grad();
            if (MoHTestData.TopKGap(block.attn, block.norm1.forward(x)) > MoHTestData.MinimumTopKGap
                && Runs.All(run => ExpertRoutingGap(block, x, padding, rotary, run) > MoHTestData.MinimumTopKGap))
                return (block, x, padding);
        }
        throw new InvalidOperationException($"No tie-free routing found for seed {seed}.");
    }

    /// <summary>The expert layer's routing gap on what it reads in one run (+inf without experts). Attention mixes tokens,
    /// so each run's slice gives the experts other inputs.</summary>
    private static double ExpertRoutingGap(TransformerBlock block, Tensor x, Tensor? padding, RotaryEmbedding? rotary, (long Batch, long Tokens) run)
    {
        if (block.moe is null) return double.PositiveInfinity;
        var xRun = x[..(int)run.Batch, ..(int)run.Tokens];
        var paddingRun = padding?[..(int)run.Batch, ..(int)run.Tokens];
        var attention = block.attn.forward(new AttentionInput(block.norm1.forward(xRun), paddingRun, rotary)).Output;
        return MoECases.SmallestRoutingGap(block.moe, block.norm2.forward(xRun + attention));
    }
}
