using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>
/// MoHAttention against the independent PyTorch reference (reference/moh_cases.py): same weights and inputs; forward
/// output, gates, balance loss, and the gradient of sum(output * grad_y) + 0.01 * balance_loss with respect to every
/// parameter (routers included) and the input. Training mode, no dropout. One Python run per test method.
/// Tolerances: outputs, gates and the balance loss pass through matmuls and softmax reductions (Reduction);
/// gradients pass through several of them in a row (Layer).
/// </summary>
public sealed class MoHAttentionParityTests
{
    /// <summary>One parity case: a layer configuration and the input it gets.</summary>
    public sealed record MoHCase(string Name, MoHAttentionOptions Options, long Batch = 2, long Tokens = 11,
        bool KeyPadding = false, bool Rotary = false);

    private const double RotaryTheta = 10000.0;

    private static MoHAttentionOptions Learned(int dim, int heads, int shared, int topK, int? headDim = null) => new()
    {
        Dim = dim, Heads = heads, SharedHeads = shared, RoutedTopK = topK, HeadDim = headDim, Routing = HeadRouting.Learned,
    };

    private static readonly MoHAttentionOptions Typical = Learned(64, 8, 2, 4);

    [Fact]
    public void Learned_routing_matches_reference() => CheckAgainstReference(
    [
        new("dense-weighted (routed = 0)", Learned(32, 4, 4, 0)),
        new("dense-weighted, one head (constant gate)", Learned(16, 1, 1, 0)),
        new("shared = 0", Learned(48, 6, 0, 2)),
        new("shared = 1", Learned(48, 6, 1, 2)),
        new("K = E", Learned(48, 6, 2, 4)),
        new("head_dim != C/H", Learned(40, 4, 2, 1, headDim: 12)),
        new("typical H=8 h_s=2 K=4", Typical, Batch: 3, Tokens: 13),
        new("typical without biases", Typical with { QkvBias = false, ProjBias = false }),
        new("causal", Typical with { Causal = true }),
        new("key padding", Typical, KeyPadding: true),
        new("causal + key padding", Typical with { Causal = true }, Batch: 3, KeyPadding: true),
        new("without two-stage routing", Typical with { TwoStageRouting = false }),
        new("without two-stage routing, shared = 1", Learned(48, 6, 1, 2) with { TwoStageRouting = false }),
    ]);

    [Fact]
    public void Dense_and_parameter_free_routing_match_reference() => CheckAgainstReference(
    [
        new("Routing = Dense", new MoHAttentionOptions { Dim = 48, Heads = 6 }),
        new("Routing = Dense, causal + key padding", new MoHAttentionOptions { Dim = 48, Heads = 6, Causal = true }, KeyPadding: true),
        new("ParameterFree h_s=2 K=3", new MoHAttentionOptions { Dim = 64, Heads = 8, SharedHeads = 2, RoutedTopK = 3, Routing = HeadRouting.ParameterFree }),
        new("ParameterFree shared = 0", new MoHAttentionOptions { Dim = 48, Heads = 6, RoutedTopK = 2, Routing = HeadRouting.ParameterFree }, Tokens: 17),
        new("ParameterFree causal + key padding",
            new MoHAttentionOptions { Dim = 64, Heads = 8, SharedHeads = 4, RoutedTopK = 2, Routing = HeadRouting.ParameterFree, Causal = true },
            KeyPadding: true),
    ]);

    [Fact]
    public void Rotary_matches_reference() => CheckAgainstReference(
    [
        new("rotary, Learned", Typical, Rotary: true),
        new("rotary, Learned causal, key padding", Typical with { Causal = true }, KeyPadding: true, Rotary: true),
        new("rotary, ParameterFree (router reads pre-rotary queries)",
            new MoHAttentionOptions { Dim = 64, Heads = 8, SharedHeads = 2, RoutedTopK = 3, Routing = HeadRouting.ParameterFree }, Rotary: true),
        new("rotary, Dense causal", new MoHAttentionOptions { Dim = 32, Heads = 2, Causal = true }, Tokens: 19, Rotary: true),
    ]);

    private static void CheckAgainstReference(IReadOnlyList<MoHCase> cases)
    {
        using var scope = NewDisposeScope();
        var prepared = cases.Select((c, i) => Prepare(c, seed: 100 + 17 * i)).ToList();
        var reference = PythonReference.Run(prepared.Select(p => p.Reference).ToList());
        for (int i = 0; i < cases.Count; i++)
        {
            var ours = prepared[i].Ours();
            var expected = reference[i];
            string what = cases[i].Name;
            Assert.Equal(expected.ContainsKey("balance_loss"), ours.ContainsKey("balance_loss"));
            Assert.Equal(expected.Keys.Order(), ours.Keys.Order());
            foreach (var (name, value) in ours)
                ParityAssert.Close($"{what}: {name}", expected[name], value, name.StartsWith("grad/", StringComparison.Ordinal) ? Tolerance.Layer : Tolerance.Reduction);
        }
    }

    private static (ReferenceCase Reference, Func<Dictionary<string, Tensor>> Ours) Prepare(MoHCase c, int seed)
    {
        var (layer, x) = MoHTestData.Generate(c.Options, c.Batch, c.Tokens, seed);
        var padding = c.KeyPadding ? MoHTestData.KeyPadding(c.Batch, c.Tokens) : null;
        var gradY = randn(c.Batch, c.Tokens, c.Options.Dim);
        var o = layer.Options;
        var settings = new Dictionary<string, object>
        {
            ["heads"] = o.Heads, ["shared"] = o.SharedHeads, ["topk"] = o.RoutedTopK, ["head_dim"] = o.ResolvedHeadDim,
            ["routing"] = o.Routing switch { HeadRouting.Learned => "learned", HeadRouting.ParameterFree => "parameter_free", _ => "dense" },
            ["two_stage"] = o.TwoStageRouting, ["causal"] = o.Causal, ["training"] = true, ["rotary"] = c.Rotary, ["rotary_theta"] = RotaryTheta,
        };
        var inputs = new Dictionary<string, Tensor> { ["x"] = x, ["grad_y"] = gradY };
        if (padding is not null) inputs["key_padding"] = padding.to(ScalarType.Int64);
        foreach (var (name, parameter) in layer.named_parameters()) inputs[name] = parameter.detach();

        Dictionary<string, Tensor> Ours()
        {
            layer.train();
            var input = x.detach().clone().requires_grad_(true);
            var rotary = c.Rotary ? new RotaryEmbedding(o.ResolvedHeadDim, (int)c.Tokens + 3, RotaryTheta) : null;
            var output = layer.forward(new AttentionInput(input, padding, rotary));
            var objective = (output.Output * gradY).sum();
            if (output.BalanceLoss is not null) objective = objective + 0.01 * output.BalanceLoss;
            var named = layer.named_parameters().Select(p => (Name: p.name, Tensor: (Tensor)p.parameter)).Append((Name: "x", Tensor: input)).ToList();
            var grads = torch.autograd.grad([objective], named.Select(n => n.Tensor).ToList(), allow_unused: true);
            var result = new Dictionary<string, Tensor> { ["y"] = output.Output, ["gates"] = output.Gates };
            if (output.BalanceLoss is not null) result["balance_loss"] = output.BalanceLoss;
            for (int i = 0; i < named.Count; i++) result[$"grad/{named[i].Name}"] = grads[i] ?? zeros_like(named[i].Tensor);
            return result;
        }

        return (new ReferenceCase("moh_attention", settings, inputs), Ours);
    }
}
