using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Persistence;

/// <summary>
/// Checkpoint folders (model.safetensors + config.json) exchanged with the PyTorch module python/mixtureheads_lm: a
/// model saved by .NET loads in PyTorch and gives the same logits, and a model initialised and saved by PyTorch loads in
/// .NET and gives the same logits, for dense attention, learned MoH with MH-MoE, parameter-free routing, BitNet and
/// tied or untied embeddings, and PyTorch's own initialisation. Weights are otherwise drawn at a scale where routing
/// decisions have wide margins. Each direction runs one Python process for all its cases.
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

    private const string PyTorchInitialisation = "PyTorch's own initialisation, MH-MoE";

    /// <summary>Per case, (PyTorch's logits, .NET's logits) for a model .NET initialised and saved; one Python process for all cases.</summary>
    private static readonly Lazy<Dictionary<string, (Tensor Expected, Tensor Actual)>> SavedByDotnet = new(() =>
    {
        using var work = new TemporaryFolder();
        var names = Cases.Keys.ToList();
        var jobs = new List<Dictionary<string, object>>();
        var actual = new List<Tensor>();
        for (int i = 0; i < names.Count; i++)
        {
            string folder = Path.Combine(work.Path, $"case{i}");
            manual_seed(7 + i);
            using var model = new MoHCausalLM(Cases[names[i]]);
            Spread(model);
            CausalLMCheckpoint.Save(model, folder);
            var tokens = randint(0, Vocabulary, [2, 9], dtype: ScalarType.Int64);
            model.eval();
            using (no_grad()) actual.Add(model.forward(tokens).Output.detach());
            jobs.Add(LogitsJob(folder, tokens, Path.Combine(work.Path, $"logits{i}.safetensors")));
        }
        PythonLM.RunBatch(jobs, work.Path);
        return names.Select((name, i) => (name, i)).ToDictionary(c => c.name,
            c => (Safetensors.LoadStateDict(Path.Combine(work.Path, $"logits{c.i}.safetensors"))["logits"], actual[c.i]));
    });

    /// <summary>Per case, (PyTorch's logits, .NET's logits, the config .NET read) for a model PyTorch initialised and saved; one Python process for all.</summary>
    private static readonly Lazy<Dictionary<string, (Tensor Expected, Tensor Actual, CausalLMConfig Config)>> SavedByPyTorch = new(() =>
    {
        using var work = new TemporaryFolder();
        var names = Cases.Keys.Append(PyTorchInitialisation).ToList();
        var jobs = new List<Dictionary<string, object>>();
        var tokens = new List<Tensor>();
        for (int i = 0; i < names.Count; i++)
        {
            string request = Path.Combine(work.Path, $"request{i}.json"), folder = Path.Combine(work.Path, $"case{i}");
            File.WriteAllText(request, CausalLMConfigJson.Write(ConfigOf(names[i])));
            jobs.Add(new() { ["op"] = "init", ["config"] = request, ["seed"] = 11 + i, ["folder"] = folder, ["spread"] = names[i] != PyTorchInitialisation });
            manual_seed(20 + i);
            tokens.Add(randint(0, Vocabulary, [2, 9], dtype: ScalarType.Int64));
            jobs.Add(LogitsJob(folder, tokens[i], Path.Combine(work.Path, $"logits{i}.safetensors")));
        }
        PythonLM.RunBatch(jobs, work.Path);
        var results = new Dictionary<string, (Tensor, Tensor, CausalLMConfig)>();
        for (int i = 0; i < names.Count; i++)
        {
            using var model = CausalLMCheckpoint.Load(Path.Combine(work.Path, $"case{i}"));
            model.eval();
            Tensor actual;
            using (no_grad()) actual = model.forward(tokens[i]).Output.detach();
            results[names[i]] = (Safetensors.LoadStateDict(Path.Combine(work.Path, $"logits{i}.safetensors"))["logits"], actual, model.Config);
        }
        return results;
    });

    private static CausalLMConfig ConfigOf(string name) =>
        name == PyTorchInitialisation ? Cases["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"] : Cases[name];

    private static Dictionary<string, object> LogitsJob(string folder, Tensor tokens, string output)
    {
        string tokensPath = output.Replace("logits", "tokens", StringComparison.Ordinal);
        using (var stream = File.Create(tokensPath))
            Safetensors.SaveStateDict(stream, new Dictionary<string, Tensor> { ["tokens"] = tokens.contiguous() }, leaveOpen: true);
        return new() { ["op"] = "logits", ["folder"] = folder, ["tokens"] = tokensPath, ["out"] = output };
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_model_saved_by_dotnet_gives_the_same_logits_in_PyTorch(string name)
    {
        var (expected, actual) = SavedByDotnet.Value[name];
        ParityAssert.Close($"{name}: logits", expected, actual, Tolerance.Reduction);
    }

    public static TheoryData<string> PyTorchNames() => new(Cases.Keys.Append(PyTorchInitialisation));

    [Theory]
    [MemberData(nameof(PyTorchNames))]
    public void A_model_initialised_and_saved_by_PyTorch_gives_the_same_logits_in_dotnet(string name)
    {
        var (expected, actual, config) = SavedByPyTorch.Value[name];
        Assert.Equal(ConfigOf(name), config);
        ParityAssert.Close($"{name}: logits", expected, actual, Tolerance.Reduction);
    }

    [Fact]
    public void PyTorch_rejects_weights_that_do_not_fit_the_config_naming_the_parameter()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = new MoHCausalLM(Cases["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"]);
        CausalLMCheckpoint.Save(model, folder.Path);
        string weights = Path.Combine(folder.Path, CausalLMCheckpoint.WeightsFileName);
        var tensors = Safetensors.LoadStateDict(weights);
        tensors["blocks.1.moe.wg.weight"] = zeros(5, Dim / 2);
        using (var stream = File.Create(weights)) Safetensors.SaveStateDict(stream, tensors, leaveOpen: true);

        var error = Assert.Throws<InvalidOperationException>(() => PythonLM.Logits(folder.Path, zeros([1, 4], dtype: ScalarType.Int64)));
        Assert.Contains("CheckpointError", error.Message);
        string needed = string.Join(", ", model.blocks[1].moe!.wg.weight.shape);
        Assert.True(error.Message.Contains($"parameter 'blocks.1.moe.wg.weight' has shape [5, 24]; the config needs [{needed}]", StringComparison.Ordinal), error.Message);
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
