using Microsoft.ML.MixtureHeads.Layers;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Microsoft.ML.MixtureHeads.Tests.Parity;

/// <summary>
/// Forward and gradients against the PyTorch reference, several generated shapes and seeds per case, one Python run
/// each: the project's own pieces (top-k gates, RMSNorm, the LayerNorm adapter, attention masks) and, named
/// <c>TorchSharp_*</c>, the TorchSharp ops the layers call as they are (softmax, GELU, SiLU, cross-entropy).
/// </summary>
public sealed class OpsParityTests
{
    private static readonly long[][] Shapes = [[7, 5], [2, 3, 16], [4, 1, 33]];
    private static readonly int[] Seeds = [1, 2];

    private static IEnumerable<(long[] Shape, int Seed)> Grid() =>
        from shape in Shapes from seed in Seeds select (shape, seed);

    /// <summary>Runs <paramref name="ours"/> and the reference on each generated input and compares every named result.</summary>
    private static void CheckAgainstReference(
        string op,
        IReadOnlyList<(Dictionary<string, object> Settings, Dictionary<string, Tensor> Inputs)> cases,
        Func<Dictionary<string, object>, Dictionary<string, Tensor>, Dictionary<string, Tensor>> ours,
        Tolerance tolerance)
    {
        using var scope = NewDisposeScope();
        var reference = PythonReference.Run(cases.Select(c => new ReferenceCase(op, c.Settings, c.Inputs)).ToList());
        for (int i = 0; i < cases.Count; i++)
        {
            var mine = ours(cases[i].Settings, cases[i].Inputs);
            Assert.NotEmpty(mine);
            foreach (var (name, value) in mine)
            {
                Assert.True(reference[i].ContainsKey(name), $"reference case {op}#{i} has no output '{name}'");
                if (value.dtype == ScalarType.Int64) ParityAssert.Equal($"{op}#{i} {name}", reference[i][name], value);
                else ParityAssert.Close($"{op}#{i} {name}", reference[i][name], value, tolerance);
            }
        }
    }

    /// <summary>Leaf copies that require grad, so each case's gradients stay separate.</summary>
    private static Tensor Leaf(Tensor t) => t.detach().clone().requires_grad_(true);

    private static Dictionary<string, Tensor> Backward(Tensor objective, params (string Name, Tensor Leaf)[] leaves)
    {
        var grads = torch.autograd.grad([objective], leaves.Select(l => l.Leaf).ToList(), allow_unused: true);
        return leaves.Select((l, i) => (l.Name, Grad: grads[i] ?? zeros_like(l.Leaf)))
                     .ToDictionary(p => $"grad/{p.Name}", p => p.Grad);
    }

    private static Dictionary<string, Tensor> WithGradients(Tensor y, Tensor upstream, params (string, Tensor)[] leaves)
    {
        var result = Backward((y * upstream).sum(), leaves);
        result["y"] = y;
        return result;
    }

    [Fact]
    public void TorchSharp_softmax_matches_reference()
    {
        using var scope = NewDisposeScope();
        var cases = Grid().Select(g =>
        {
            torch.manual_seed(g.Seed);
            var settings = new Dictionary<string, object> { ["dim"] = g.Seed % 2 == 0 ? -1 : 0 };
            return (settings, new Dictionary<string, Tensor> { ["x"] = randn(g.Shape) * 3, ["grad_y"] = randn(g.Shape) });
        }).ToList();
        CheckAgainstReference("softmax", cases, (s, t) =>
        {
            var x = Leaf(t["x"]);
            return WithGradients(softmax(x, Convert.ToInt32(s["dim"])), t["grad_y"], ("x", x));
        }, Tolerance.Fp32);
    }

    [Fact]
    public void Topk_scatter_mask_and_renormalised_gates_match_reference()
    {
        using var scope = NewDisposeScope();
        var cases = new[] { (Tokens: 9L, Experts: 6L, K: 2L), (16, 8, 3), (5, 4, 4) }.Select((c, seed) =>
        {
            torch.manual_seed(10 + seed);
            // Distinct logits (a permutation, scaled) so no top-k tie exists.
            var logits = stack(Enumerable.Range(0, (int)c.Tokens).Select(_ => randperm(c.Experts).to(float32)).ToList()) * 0.7 + randn(c.Tokens, c.Experts) * 0.01;
            var settings = new Dictionary<string, object> { ["k"] = c.K };
            return (settings, new Dictionary<string, Tensor> { ["x"] = logits, ["grad_y"] = randn(c.Tokens, c.Experts) });
        }).ToList();
        CheckAgainstReference("topk_gates", cases, (s, t) =>
        {
            var x = Leaf(t["x"]);
            var (mask, y) = HeadGates.RenormalisedTopK(softmax(x, -1), Convert.ToInt32(s["k"]));
            var result = WithGradients(y, t["grad_y"], ("x", x));
            result["mask"] = mask;
            return result;
        }, Tolerance.Fp32);
    }

    [Fact]
    public void LayerNorm_adapter_matches_reference()
    {
        using var scope = NewDisposeScope();
        var cases = Grid().Select(g =>
        {
            torch.manual_seed(g.Seed);
            long c = g.Shape[^1];
            return (new Dictionary<string, object> { ["eps"] = 1e-5 }, new Dictionary<string, Tensor>
            {
                ["x"] = randn(g.Shape) * 2 + 0.5, ["weight"] = randn(c), ["bias"] = randn(c), ["grad_y"] = randn(g.Shape),
            });
        }).ToList();
        CheckAgainstReference("layer_norm", cases, (s, t) =>
        {
            var x = Leaf(t["x"]);
            var norm = new ExportableLayerNorm(x.shape[^1], Convert.ToDouble(s["eps"]));
            using (no_grad()) { norm.weight!.copy_(t["weight"]); norm.bias!.copy_(t["bias"]); }
            return WithGradients(norm.forward(x), t["grad_y"], ("x", x), ("weight", norm.weight!), ("bias", norm.bias!));
        }, Tolerance.Reduction);
    }

    [Fact]
    public void RMSNorm_matches_reference()
    {
        using var scope = NewDisposeScope();
        var cases = Grid().Select(g =>
        {
            torch.manual_seed(g.Seed);
            return (new Dictionary<string, object> { ["eps"] = 1e-6 }, new Dictionary<string, Tensor>
            {
                ["x"] = randn(g.Shape), ["weight"] = randn(g.Shape[^1]), ["grad_y"] = randn(g.Shape),
            });
        }).ToList();
        CheckAgainstReference("rms_norm", cases, (s, t) =>
        {
            var x = Leaf(t["x"]);
            var norm = new RMSNorm(x.shape[^1], Convert.ToDouble(s["eps"]));
            using (no_grad()) norm.weight.copy_(t["weight"]);
            return WithGradients(norm.forward(x), t["grad_y"], ("x", x), ("weight", norm.weight));
        }, Tolerance.Reduction);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("tanh")]
    public void TorchSharp_gelu_matches_reference(string approximate)
    {
        using var scope = NewDisposeScope();
        var cases = Grid().Select(g =>
        {
            torch.manual_seed(g.Seed);
            return (new Dictionary<string, object> { ["approximate"] = approximate },
                new Dictionary<string, Tensor> { ["x"] = randn(g.Shape) * 3, ["grad_y"] = randn(g.Shape) });
        }).ToList();
        CheckAgainstReference("gelu", cases, (s, t) =>
        {
            var x = Leaf(t["x"]);
            var y = F.gelu(x, approximate == "tanh" ? TorchSharp.Modules.GELU.Approximate.tanh : TorchSharp.Modules.GELU.Approximate.none);
            return WithGradients(y, t["grad_y"], ("x", x));
        }, Tolerance.Fp32);
    }

    [Fact]
    public void TorchSharp_silu_matches_reference()
    {
        using var scope = NewDisposeScope();
        var cases = Grid().Select(g =>
        {
            torch.manual_seed(g.Seed);
            return (new Dictionary<string, object>(), new Dictionary<string, Tensor> { ["x"] = randn(g.Shape) * 3, ["grad_y"] = randn(g.Shape) });
        }).ToList();
        CheckAgainstReference("silu", cases, (_, t) =>
        {
            var x = Leaf(t["x"]);
            return WithGradients(F.silu(x), t["grad_y"], ("x", x));
        }, Tolerance.Fp32);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Attention_with_our_masks_matches_reference(bool causal, bool keyPadding)
    {
        using var scope = NewDisposeScope();
        var shapes = new (long B, long H, long N, long D)[] { (2, 3, 5, 8), (1, 4, 17, 16), (3, 2, 9, 4) };
        var cases = shapes.Select((sh, seed) =>
        {
            torch.manual_seed(20 + seed);
            var inputs = new Dictionary<string, Tensor>
            {
                ["q"] = randn(sh.B, sh.H, sh.N, sh.D), ["k"] = randn(sh.B, sh.H, sh.N, sh.D), ["v"] = randn(sh.B, sh.H, sh.N, sh.D),
                ["grad_y"] = randn(sh.B, sh.H, sh.N, sh.D),
            };
            if (keyPadding)
            {
                // Each row keeps at least its first key; later keys are padding at random.
                var keep = (rand(sh.B, sh.N) > 0.3).to(int64);
                keep[TensorIndex.Colon, 0] = 1;
                inputs["key_padding"] = keep;
            }
            return (new Dictionary<string, object> { ["causal"] = causal }, inputs);
        }).ToList();
        CheckAgainstReference("attention", cases, (_, t) =>
        {
            Tensor q = Leaf(t["q"]), k = Leaf(t["k"]), v = Leaf(t["v"]);
            var mask = AttentionMasks.ForAllQueries(t.TryGetValue("key_padding", out var pad) ? pad.to(@bool) : null, causal);
            var y = F.scaled_dot_product_attention(q, k, v, attn_mask: mask, is_casual: causal && mask is null);
            return WithGradients(y, t["grad_y"], ("q", q), ("k", k), ("v", v));
        }, Tolerance.Reduction);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void TorchSharp_cross_entropy_with_label_smoothing_matches_reference(double smoothing)
    {
        using var scope = NewDisposeScope();
        var cases = new[] { (N: 8L, C: 10L), (3, 2), (32, 7) }.Select((c, seed) =>
        {
            torch.manual_seed(30 + seed);
            return (new Dictionary<string, object> { ["label_smoothing"] = smoothing },
                new Dictionary<string, Tensor> { ["logits"] = randn(c.N, c.C) * 2, ["target"] = randint(0, c.C, [c.N]) });
        }).ToList();
        CheckAgainstReference("cross_entropy", cases, (s, t) =>
        {
            var logits = Leaf(t["logits"]);
            var loss = F.cross_entropy(logits, t["target"], label_smoothing: smoothing);
            var result = Backward(loss, ("logits", logits));
            result["loss"] = loss;
            return result;
        }, Tolerance.Fp32);
    }
}
