using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>The causal LM's shapes, causality, layer layout, registered configs and its errors on bad input.</summary>
public sealed class CausalLMTests
{
    internal static readonly CausalLMConfig Tiny = new()
    {
        Dim = 48, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2, VocabularySize = 50, MaxLength = 16,
    };

    [Fact]
    public void Logits_cover_every_position_and_the_balance_loss_exists_only_in_training()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var model = new MoHCausalLM(Tiny with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2) with { Dim = 0 } });
        var tokens = randint(0, 50, [3, 7], dtype: ScalarType.Int64);
        model.train();
        var output = model.forward(tokens);
        Assert.Equal([3L, 7, 50], output.Output.shape);
        Assert.NotNull(output.BalanceLoss);
        Assert.Equal(2, output.HeadGates.Count);
        Assert.Equal([3L, 7, 4], output.HeadGates[0].shape);
        model.eval();
        Assert.Null(model.forward(tokens).BalanceLoss);
    }

    [Fact]
    public void A_later_token_never_changes_an_earlier_positions_logits()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        using var model = new MoHCausalLM(Tiny);
        model.eval();
        var tokens = randint(0, 50, [2, 10], dtype: ScalarType.Int64);
        var changed = tokens.clone();
        changed[.., 6] = (changed[.., 6] + 1) % 50;
        using var noGrad = no_grad();
        var (a, b) = (model.forward(tokens).Output, model.forward(changed).Output);
        Assert.True(a[.., ..6].allclose(b[.., ..6], rtol: 0, atol: 1e-6), "positions before the change moved");
        Assert.False(a[.., 6..].allclose(b[.., 6..], rtol: 0, atol: 1e-3), "the changed position and later ones must move");
    }

    [Fact]
    public void Experts_sit_every_MoE_interval_blocks_and_tied_embeddings_drop_the_head()
    {
        using var scope = NewDisposeScope();
        var config = Tiny with { Depth = 4, MoEInterval = 2, FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.SparseMoE(48, 128) with { Dim = 0 } };
        using var model = new MoHCausalLM(config);
        Assert.Equal([false, true, false, true], model.blocks.Select(b => b.moe is not null).ToArray());
        Assert.All(new[] { 0, 2 }, i => Assert.IsType<SwiGLU>(model.blocks[i].mlp));
        Assert.Null(model.lm_head);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("lm_head", StringComparison.Ordinal) || p.name.EndsWith(".bias", StringComparison.Ordinal));
        using var untied = new MoHCausalLM(config with { TieEmbeddings = false });
        Assert.Equal([50L, 48], untied.lm_head!.weight.shape);
    }

    [Fact]
    public void Bad_token_input_is_a_typed_error_naming_the_problem()
    {
        using var scope = NewDisposeScope();
        using var model = new MoHCausalLM(Tiny);
        Assert.Contains("int64 token ids [B, T]", Assert.Throws<ArgumentException>(() => model.forward(zeros(2, 3))).Message);
        Assert.Contains("[B, T]", Assert.Throws<ArgumentException>(() => model.forward(zeros(5, ScalarType.Int64))).Message);
        Assert.Contains("[0, 50)", Assert.Throws<ArgumentException>(() => model.forward(full(1, 3, 50L, ScalarType.Int64))).Message);
        Assert.Contains("[0, 50)", Assert.Throws<ArgumentException>(() => model.forward(full(1, 3, -1L, ScalarType.Int64))).Message);
        Assert.Contains("MaxLength 16", Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 17, ScalarType.Int64))).Message);
        using var wrongDepth = new CausalLMCache(3);
        Assert.Contains("3 layers", Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 2, ScalarType.Int64), wrongDepth)).Message);
        using var cache = model.CreateCache();
        model.forward(zeros(1, 10, ScalarType.Int64), cache);
        Assert.Contains("10 cached + 7", Assert.Throws<ArgumentException>(() => model.forward(zeros(1, 7, ScalarType.Int64), cache)).Message);
        Assert.Contains("even width", Assert.Throws<ArgumentException>(() => new CausalLMConfig { Dim = 36, Heads = 4, SharedHeads = 1, RoutedTopK = 2 }.Validate()).Message);
        Assert.Contains("FeedForward", Assert.Throws<ArgumentException>(() => new CausalLMConfig { FeedForward = FeedForwardKind.GeluMlp }.Validate()).Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_onnx_export_gives_the_eval_logits(bool tied)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        using var model = new MoHCausalLM(Tiny with
        {
            TieEmbeddings = tied, MoEInterval = 2, FeedForward = FeedForwardKind.MultiHeadMoE, MoE = MoEPresets.MultiHead(48, 128, heads: 2, experts: 4) with { Dim = 0 },
        });
        model.eval();
        var tokens = randint(0, 50, [2, 9], dtype: ScalarType.Int64);
        Tensor expected;
        using (no_grad()) expected = model.forward(tokens).Output;
        var graph = new OnnxGraphBuilder();
        graph.Output(model.EmitOnnx(graph, "tokens"), "logits", OnnxElementType.Float, "batch", "sequence", 50);
        var logits = OnnxSession.Run(graph.ToBytes(), ("tokens", tokens))["logits"];
        ParityAssert.Close($"onnx logits (tied {tied})", expected, logits, Tolerance.Reduction);
    }

    public static TheoryData<string> TinyNames() => new(ModelRegistry.List("moh_lm_tiny_*"));

    [Theory]
    [MemberData(nameof(TinyNames))]
    public void Every_registered_tiny_LM_trains_forward_and_backward(string name)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var config = ModelRegistry.Get<CausalLMConfig>(name);
        using var model = (MoHCausalLM)ModelRegistry.Create(config);
        model.train();
        var tokens = randint(0, config.VocabularySize, [2, 12], dtype: ScalarType.Int64);
        var output = model.forward(tokens);
        var loss = nn.functional.cross_entropy(output.Output[.., ..^1].reshape(-1, config.VocabularySize), tokens[.., 1..].reshape(-1));
        Assert.InRange(loss.item<float>(), Math.Log(config.VocabularySize) - 0.5, Math.Log(config.VocabularySize) + 0.5);   // near uniform at init
        if (output.BalanceLoss is { } balance) loss = loss + balance * 0.01;
        Assert.Equal(name.EndsWith("_100", StringComparison.Ordinal) && config.FeedForward == FeedForwardKind.SwiGLU, output.BalanceLoss is null);
        loss.backward();
        Assert.True(model.tok_embeddings.weight.grad!.isfinite().all().item<bool>());
        Assert.True(model.blocks[0].attn.qkv.Weight.grad!.abs().sum().item<float>() > 0);
    }
}
