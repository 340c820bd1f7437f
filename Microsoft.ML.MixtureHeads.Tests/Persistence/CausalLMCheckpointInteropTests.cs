using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Persistence;

/// <summary>
/// Checkpoint folders (model.safetensors + config.json) exchanged with the PyTorch module python/mixtureheads_lm: a
/// model saved by .NET loads in PyTorch and gives the same logits, and a model initialised and saved by PyTorch loads in
/// .NET and gives the same logits, for dense attention, learned MoH with MH-MoE, parameter-free routing, BitNet and
/// tied or untied embeddings. Weights are drawn at a scale where routing decisions have wide margins.
/// </summary>
public sealed class CausalLMCheckpointInteropTests
{
    private const int Dim = 48, Vocabulary = 40;

    private static readonly CausalLMConfig Base = new()
    {
        Dim = Dim, Depth = 2, Heads = 4, SharedHeads = 1, RoutedTopK = 2, MlpRatio = 2, VocabularySize = Vocabulary, MaxLength = 16,
    };

    private static CausalLMConfig WithExperts(CausalLMConfig config, MultiHeadMoEOptions moe) =>
        config with { FeedForward = FeedForwardKind.MultiHeadMoE, MoE = moe with { Dim = 0 } };

    internal static readonly Dictionary<string, CausalLMConfig> Cases = new()
    {
        ["dense attention, SwiGLU, untied"] = Base.Dense() with { TieEmbeddings = false },
        ["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"] = WithExperts(Base with { MoEInterval = 2 }, MoEPresets.MultiHead(Dim, 128, heads: 2, experts: 4)),
        ["MoH learned 2+1 of 4, SMoE, untied"] = WithExperts(Base with { SharedHeads = 2, RoutedTopK = 1, TieEmbeddings = false }, MoEPresets.SparseMoE(Dim, 128, experts: 4)),
        ["parameter-free routing 2+2 of 6"] = Base with { Routing = HeadRouting.ParameterFree, Heads = 6, SharedHeads = 2, RoutedTopK = 2 },
        ["BitNet attention, dense and MH-MoE h=3 experts"] = WithExperts(Base with { Linear = LinearKind.BitLinear, MoEInterval = 2 },
            MoEPresets.MultiHead(Dim, 128, heads: 3, experts: 4) with { ExpertLinear = LinearKind.BitLinear }),
    };

    public static TheoryData<string> Names() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void A_model_saved_by_dotnet_gives_the_same_logits_in_PyTorch(string name)
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        manual_seed(7);
        using var model = new MoHCausalLM(Cases[name]);
        Spread(model);
        CausalLMCheckpoint.Save(model, folder.Path);
        var tokens = randint(0, Vocabulary, [2, 9], dtype: ScalarType.Int64);

        var expected = PythonLM.Logits(folder.Path, tokens);
        model.eval();
        using (no_grad())
            ParityAssert.Close($"{name}: logits", expected, model.forward(tokens).Output, Tolerance.Reduction);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_model_initialised_and_saved_by_PyTorch_gives_the_same_logits_in_dotnet(string name)
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        string request = Path.Combine(folder.Path, "request.json");
        File.WriteAllText(request, CausalLMConfigJson.Write(Cases[name]));
        string checkpoint = Path.Combine(folder.Path, "checkpoint");
        PythonLM.Run("interop", ["init", request, "11", checkpoint, "--spread"]);

        using var model = CausalLMCheckpoint.Load(checkpoint);
        Assert.Equal(Cases[name], model.Config);
        var tokens = randint(0, Vocabulary, [2, 9], dtype: ScalarType.Int64);
        var expected = PythonLM.Logits(checkpoint, tokens);
        model.eval();
        using (no_grad())
            ParityAssert.Close($"{name}: logits", expected, model.forward(tokens).Output, Tolerance.Reduction);
    }

    [Fact]
    public void A_model_with_PyTorchs_own_initialisation_loads_in_dotnet_with_equal_logits()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        var config = Cases["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"];
        string request = Path.Combine(folder.Path, "request.json");
        File.WriteAllText(request, CausalLMConfigJson.Write(config));
        PythonLM.Run("interop", ["init", request, "3", folder.Path]);
        using var model = CausalLMCheckpoint.Load(folder.Path);
        var tokens = randint(0, Vocabulary, [3, 16], dtype: ScalarType.Int64);
        var expected = PythonLM.Logits(folder.Path, tokens);
        model.eval();
        using (no_grad())
            ParityAssert.Close("PyTorch init: logits", expected, model.forward(tokens).Output, Tolerance.Reduction);
    }

    /// <summary>Redraws every weight at a scale where routing and every path matter (as the parity tests do).</summary>
    internal static void Spread(MoHCausalLM model)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (parameter.dim() >= 2) parameter.normal_(0, 1 / Math.Sqrt(parameter.shape[1]));
            else if (name.Contains("norm", StringComparison.Ordinal)) parameter.normal_(1, 0.1);
            else parameter.normal_(0, 0.1);
        }
        model.tok_embeddings.weight.normal_(0, 1);
    }
}
