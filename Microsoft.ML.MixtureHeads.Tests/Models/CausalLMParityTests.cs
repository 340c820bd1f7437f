using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Tests.Layers;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Models;

/// <summary>
/// The causal LM against the independent PyTorch reference (reference/lm_cases.py): the same weights and tokens give
/// the same logits, balance loss and gradient of every parameter, for each attention routing and feed-forward kind,
/// BitNet on, tied and untied embeddings. Training mode, so the balance losses are part of the objective.
/// </summary>
public sealed class CausalLMParityTests
{
    private const int Dim = 48, Vocabulary = 40, Batch = 2, Tokens = 7;

    private static readonly CausalLMConfig Base = new()
    {
        Dim = Dim, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2, VocabularySize = Vocabulary, MaxLength = 16,
    };

    private static CausalLMConfig WithExperts(CausalLMConfig config, MultiHeadMoEOptions moe) =>
        config with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = moe with { Dim = 0 } };

    private static readonly Dictionary<string, CausalLMConfig> Cases = new()
    {
        ["dense attention, SwiGLU, untied"] = Base.Dense() with { TieEmbeddings = false },
        ["MoH 1+2 of 4, SwiGLU, tied"] = Base,
        ["MoH 2+1 of 4, SMoE"] = WithExperts(Base with { SharedHeads = 2, RoutedTopK = 1 }, MoEPresets.SparseMoE(Dim, 128, experts: 4)),
        ["MoH 0+2 of 4, fine-grained SMoE"] = WithExperts(Base with { SharedHeads = 0, RoutedTopK = 2 }, MoEPresets.FineGrained(Dim, 128, experts: 4)),
        ["MoH, MH-MoE h=2 every 2nd block, untied"] = WithExperts(Base with { MoEInterval = 2, TieEmbeddings = false }, MoEPresets.MultiHead(Dim, 128, heads: 2, experts: 4)),
        ["MoH, MH-MoE h=3 renormalised"] = WithExperts(Base, MoEPresets.MultiHead(Dim, 128, heads: 3, experts: 4) with { RenormalizeTopK = true }),
        ["parameter-free routing 2+2 of 6, SwiGLU"] = Base with { Routing = HeadRouting.ParameterFree, Heads = 6, SharedHeads = 2, RoutedTopK = 2 },
        ["BitNet: attention, dense and expert projections"] = WithExperts(Base with { Linear = LinearKind.BitLinear, MoEInterval = 2 },
            MoEPresets.MultiHead(Dim, 128, heads: 2, experts: 4) with { ExpertLinear = LinearKind.BitLinear }),
    };

    public static TheoryData<string> Names() => new(Cases.Keys);

    /// <summary>Per case, the inputs (weights by state-dict name, tokens, upstream gradient) and the reference's results, from one run of the Python process.</summary>
    private static readonly Lazy<Dictionary<string, (Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor> Expected)>> Reference = new(() =>
    {
        var names = Cases.Keys.ToList();
        var inputs = names.Select((name, i) =>
        {
            var (model, tokens, gradLogits) = Build(Cases[name], seed: 100 + i);
            var tensors = new Dictionary<string, Tensor>(LayerParity.Parameters(model)) { ["tokens"] = tokens, ["grad_logits"] = gradLogits };
            model.Dispose();
            return tensors;
        }).ToList();
        var results = PythonReference.Run(names.Select((name, i) => new ReferenceCase("causal_lm", Settings(Cases[name]), inputs[i])).ToList());
        return names.Select((name, i) => (name, i)).ToDictionary(c => c.name, c => (inputs[c.i], results[c.i]));
    });

    [Theory]
    [MemberData(nameof(Names))]
    public void Logits_balance_loss_and_every_gradient_match_the_reference(string name)
    {
        var (inputs, expected) = Reference.Value[name];
        using var scope = NewDisposeScope();
        using var model = new MoHCausalLM(Cases[name]);
        using (no_grad())
            foreach (var (key, parameter) in model.named_parameters()) parameter.copy_(inputs[key]);
        model.train();
        var output = model.forward(inputs["tokens"]);
        var objective = (output.Output * inputs["grad_logits"]).sum();
        if (output.BalanceLoss is { } balance) objective = objective + balance * 0.01;
        objective.backward();

        var ours = new Dictionary<string, Tensor>(LayerParity.ParameterGradients(model)) { ["logits"] = output.Output };
        if (output.BalanceLoss is { } loss) ours["balance_loss"] = loss;
        Assert.Equal(expected.Keys.Order(), ours.Keys.Order());
        Assert.Equal(Cases[name].TieEmbeddings, !ours.ContainsKey("grad/lm_head.weight"));
        foreach (var (key, value) in ours)
            ParityAssert.Close($"{name}: {key}", expected[key], value, key.StartsWith("grad/", StringComparison.Ordinal) ? Tolerance.Layer : Tolerance.Reduction);
    }

    /// <summary>A model whose weights are random at a scale where routing and every path matter, tokens, and an upstream gradient.</summary>
    private static (MoHCausalLM Model, Tensor Tokens, Tensor GradLogits) Build(CausalLMConfig config, int seed)
    {
        manual_seed(seed);
        var model = new MoHCausalLM(config);
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (parameter.dim() >= 2) parameter.normal_(0, 1 / Math.Sqrt(parameter.shape[1]));
                else if (name.EndsWith("norm1.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal) || name == "norm.weight")
                    parameter.normal_(1, 0.1);
                else parameter.normal_(0, 0.1);
            }
            model.tok_embeddings.weight.normal_(0, 1);
        }
        var tokens = randint(0, config.VocabularySize, [Batch, Tokens], dtype: ScalarType.Int64);
        return (model, tokens, randn(Batch, Tokens, config.VocabularySize));
    }

    private static Dictionary<string, object> Settings(CausalLMConfig c) => new()
    {
        ["vocab"] = c.VocabularySize, ["dim"] = c.Dim, ["heads"] = c.Heads,
        ["shared"] = c.Routing == HeadRouting.Dense ? 0 : c.SharedHeads, ["topk"] = c.Routing == HeadRouting.Dense ? 0 : c.RoutedTopK,
        ["routing"] = c.Routing switch { HeadRouting.Dense => "dense", HeadRouting.Learned => "learned", _ => "parameter_free" },
        ["norm_eps"] = c.NormEps, ["theta"] = c.RotaryTheta, ["tied"] = c.TieEmbeddings, ["bitlinear"] = c.Linear == LinearKind.BitLinear,
        ["training"] = true,
        ["layers"] = Enumerable.Range(0, c.Depth).Select(i => c.HasExperts(i)
            ? new Dictionary<string, object>
            {
                ["kind"] = "moe", ["heads"] = c.MoE!.Heads, ["experts"] = c.MoE.Experts, ["top_k"] = c.MoE.TopK,
                ["head_projections"] = c.MoE.UsesHeadProjections, ["renormalize"] = c.MoE.RenormalizeTopK,
                ["bitlinear"] = c.MoE.ExpertLinear == LinearKind.BitLinear,
            }
            : new Dictionary<string, object> { ["kind"] = "swiglu" }).ToList(),
    };
}
