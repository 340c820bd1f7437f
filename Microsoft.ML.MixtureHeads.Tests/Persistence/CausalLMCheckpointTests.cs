using System.Text.Json.Nodes;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Persistence;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Persistence;

/// <summary>The checkpoint folder on the .NET side: an exact round trip, the files it writes, and a typed error naming the
/// file and the parameter or key for each kind of bad folder.</summary>
public sealed class CausalLMCheckpointTests
{
    private static readonly CausalLMConfig Config = CausalLMCheckpointInteropTests.Cases["MoH learned 1+2 of 4, MH-MoE h=2 every 2nd block, tied"];

    private static MoHCausalLM SavedModel(string folder)
    {
        manual_seed(5);
        var model = new MoHCausalLM(Config);
        CausalLMCheckpointInteropTests.Spread(model);
        CausalLMCheckpoint.Save(model, folder);
        return model;
    }

    [Fact]
    public void Save_then_load_gives_the_same_config_every_weight_bit_for_bit_and_a_trainable_model()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var saved = SavedModel(folder.Path);
        Assert.Equal([CausalLMCheckpoint.ConfigFileName, CausalLMCheckpoint.WeightsFileName], Directory.GetFiles(folder.Path).Select(Path.GetFileName).Order());

        using var loaded = CausalLMCheckpoint.Load(folder.Path);
        Assert.Equal(Config, loaded.Config);
        var expected = saved.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(expected.Keys.Order(), loaded.named_parameters().Select(p => p.name).Order());
        foreach (var (name, parameter) in loaded.named_parameters())
        {
            ParityAssert.Equal(name, expected[name], parameter);
            Assert.True(parameter.requires_grad, $"{name} must be trainable");
        }
    }

    [Fact]
    public void The_weights_file_lists_exactly_the_state_dict_in_float32()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        var tensors = Safetensors.LoadStateDict(Path.Combine(folder.Path, CausalLMCheckpoint.WeightsFileName));
        Assert.Equal(model.state_dict().Keys.Order(), tensors.Keys.Order());
        Assert.All(tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
        Assert.DoesNotContain(tensors.Keys, k => k.StartsWith("rotary", StringComparison.Ordinal));
    }

    [Fact]
    public void Half_precision_weights_load_converted_to_float32()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        RewriteWeights(folder.Path, tensors =>
        {
            foreach (string name in tensors.Keys.ToList()) tensors[name] = tensors[name].to(ScalarType.Float16);
        });
        using var loaded = CausalLMCheckpoint.Load(folder.Path);
        foreach (var (name, parameter) in model.named_parameters())
        {
            Assert.Equal(ScalarType.Float32, loaded.get_parameter(name)!.dtype);
            ParityAssert.Equal(name, parameter.to(ScalarType.Float16).to(ScalarType.Float32), loaded.get_parameter(name)!);
        }
    }

    [Fact]
    public void A_missing_parameter_is_named()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        RewriteWeights(folder.Path, tensors => tensors.Remove("blocks.1.moe.wg.weight"));
        var error = Assert.Throws<InvalidDataException>(() => CausalLMCheckpoint.Load(folder.Path));
        Assert.Contains("'blocks.1.moe.wg.weight' is missing", error.Message);
        Assert.Contains(CausalLMCheckpoint.WeightsFileName, error.Message);
    }

    [Fact]
    public void An_unexpected_parameter_is_named()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        RewriteWeights(folder.Path, tensors => tensors["lm_head.weight"] = zeros(Config.VocabularySize, Config.Dim));
        var error = Assert.Throws<InvalidDataException>(() => CausalLMCheckpoint.Load(folder.Path));
        Assert.Contains("'lm_head.weight' is not part of the model", error.Message);
    }

    [Fact]
    public void A_parameter_of_the_wrong_shape_is_named_with_both_shapes()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        RewriteWeights(folder.Path, tensors => tensors["blocks.0.attn.qkv.weight"] = zeros(3 * Config.Dim, Config.Dim + 1));
        var error = Assert.Throws<InvalidDataException>(() => CausalLMCheckpoint.Load(folder.Path));
        Assert.Contains("'blocks.0.attn.qkv.weight' has shape [144, 49]; the config needs [144, 48]", error.Message);
    }

    [Fact]
    public void A_truncated_weights_file_is_reported_naming_a_tensor()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        string path = Path.Combine(folder.Path, CausalLMCheckpoint.WeightsFileName);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^100]);
        var error = Assert.Throws<InvalidDataException>(() => CausalLMCheckpoint.Load(folder.Path));
        Assert.Contains("data_offsets", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Theory]
    [InlineData("format_version", "2", "format_version 2")]
    [InlineData("kind", "\"vision_transformer\"", "kind is 'vision_transformer'")]
    [InlineData("config.Dimm", "48", "unknown key 'Dimm'")]
    [InlineData("config.MoE.Expertz", "4", "config.MoE has the unknown key 'Expertz'")]
    [InlineData("config.Heads", "5", "Heads")]
    [InlineData("config.Routing", "\"Sometimes\"", "not a valid CausalLMConfig")]
    public void A_bad_config_is_reported_naming_the_file_and_the_key(string key, string json, string expected)
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var model = SavedModel(folder.Path);
        string path = Path.Combine(folder.Path, CausalLMCheckpoint.ConfigFileName);
        var document = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var parts = key.Split('.');
        var target = parts[..^1].Aggregate(document, (node, part) => node[part]!.AsObject());
        target[parts[^1]] = JsonNode.Parse(json);
        File.WriteAllText(path, document.ToJsonString());

        var error = Assert.Throws<InvalidDataException>(() => CausalLMCheckpoint.Load(folder.Path));
        Assert.Contains(expected, error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Missing_folders_and_files_are_named()
    {
        using var folder = new TemporaryFolder();
        string absent = Path.Combine(folder.Path, "absent");
        Assert.Contains(absent, Assert.Throws<DirectoryNotFoundException>(() => CausalLMCheckpoint.Load(absent)).Message);
        Assert.Contains(CausalLMCheckpoint.ConfigFileName, Assert.Throws<FileNotFoundException>(() => CausalLMCheckpoint.Load(folder.Path)).Message);
        File.WriteAllText(Path.Combine(folder.Path, CausalLMCheckpoint.ConfigFileName), CausalLMConfigJson.Write(Config));
        Assert.Contains(CausalLMCheckpoint.WeightsFileName, Assert.Throws<FileNotFoundException>(() => CausalLMCheckpoint.Load(folder.Path)).Message);
    }

    [Fact]
    public void Saving_over_a_checkpoint_leaves_no_temporary_files()
    {
        using var scope = NewDisposeScope();
        using var folder = new TemporaryFolder();
        using var first = SavedModel(folder.Path);
        using var second = new MoHCausalLM(Config with { TieEmbeddings = false });
        CausalLMCheckpoint.Save(second, folder.Path);
        Assert.Equal(2, Directory.GetFiles(folder.Path).Length);
        using var loaded = CausalLMCheckpoint.Load(folder.Path);
        Assert.NotNull(loaded.lm_head);
    }

    private static void RewriteWeights(string folder, Action<Dictionary<string, Tensor>> change)
    {
        string path = Path.Combine(folder, CausalLMCheckpoint.WeightsFileName);
        var tensors = Safetensors.LoadStateDict(path);
        change(tensors);
        using var stream = File.Create(path);
        Safetensors.SaveStateDict(stream, tensors, leaveOpen: true);
    }
}
