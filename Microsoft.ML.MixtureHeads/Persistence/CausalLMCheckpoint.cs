using Microsoft.ML.MixtureHeads.Models;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// A <see cref="MoHCausalLM"/> in PyTorch's checkpoint layout: a folder holding <c>model.safetensors</c> (every weight,
/// float32, under the same state-dict names as the PyTorch module in <c>python/mixtureheads_lm</c>) and
/// <c>config.json</c> (the <see cref="CausalLMConfig"/> with a format version). A model trained with PyTorch's
/// distributed training (python/mixtureheads_lm/train_ddp.py) comes back to .NET this way, and a .NET model goes to
/// PyTorch the same way.
/// </summary>
public static class CausalLMCheckpoint
{
    /// <summary>The weights file of a checkpoint folder.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>The architecture file of a checkpoint folder.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>The config.json format version this library writes and reads.</summary>
    public const int FormatVersion = CausalLMConfigJson.FormatVersion;

    /// <summary>
    /// Writes <paramref name="model"/>'s weights and config into <paramref name="folder"/> (created if missing). Each file
    /// is replaced atomically: a reader sees the old file or the new one, never a partial one.
    /// </summary>
    /// <exception cref="ArgumentException">The folder is empty or null.</exception>
    public static void Save(MoHCausalLM model, string folder)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Directory.CreateDirectory(folder);
        using (var scope = NewDisposeScope())
        {
            var state = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float32).cpu().contiguous());
            AtomicFile.Write(Path.Combine(folder, WeightsFileName), stream => Safetensors.SaveStateDict(stream, state, leaveOpen: true));
        }
        AtomicFile.WriteAllBytes(Path.Combine(folder, ConfigFileName), System.Text.Encoding.UTF8.GetBytes(CausalLMConfigJson.Write(model.Config)));
    }

    /// <summary>The architecture recorded in <paramref name="folder"/>'s config.json.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json is missing.</exception>
    /// <exception cref="InvalidDataException">config.json is not a valid causal-LM config of this format version (the message names the file and key).</exception>
    public static CausalLMConfig ReadConfig(string folder)
    {
        string path = Path.Combine(CheckFolder(folder), ConfigFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; a checkpoint folder holds {ConfigFileName} and {WeightsFileName}.", path);
        return CausalLMConfigJson.Read(File.ReadAllText(path), path);
    }

    /// <summary>
    /// A trainable <see cref="MoHCausalLM"/> (in training mode, on the CPU) built from <paramref name="folder"/>'s
    /// config.json, with every weight from its model.safetensors. Every parameter must be present with the shape the
    /// config implies and dtype F32 (a 16-bit float file is converted), and no other tensor may be there.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">config.json or model.safetensors is missing.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, or a weight is missing, unexpected, or of the wrong shape
    /// or dtype (the message names the file and the parameter).</exception>
    public static MoHCausalLM Load(string folder)
    {
        var config = ReadConfig(folder);
        string path = Path.Combine(folder, WeightsFileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing; a checkpoint folder holds {ConfigFileName} and {WeightsFileName}.", path);
        var index = SafetensorsIndex.Read(path);
        var model = new MoHCausalLM(config);
        try
        {
            using var scope = NewDisposeScope();
            var expected = model.state_dict();
            CheckNames(path, index, expected);
            var loaded = Safetensors.LoadStateDict(path);
            using (no_grad())
            {
                foreach (var (name, target) in expected)
                    target.copy_(loaded[name].to(target.dtype));
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void CheckNames(string path, IReadOnlyDictionary<string, SafetensorsEntry> index, Dictionary<string, Tensor> expected)
    {
        var missing = expected.Keys.Where(k => !index.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: parameter '{missing[0]}' is missing ({missing.Count} missing in all); the {ConfigFileName} beside it describes a model that has it.");
        string? unexpected = index.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (unexpected is not null)
            throw new InvalidDataException($"{path}: parameter '{unexpected}' is not part of the model the {ConfigFileName} beside it describes.");
        foreach (var (name, target) in expected)
        {
            var entry = index[name];
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"{path}: parameter '{name}' has shape [{string.Join(", ", entry.Shape)}]; the config needs [{string.Join(", ", target.shape)}].");
            if (entry.DType is not ("F32" or "F16" or "BF16"))
                throw new InvalidDataException($"{path}: parameter '{name}' is {entry.DType}; a checkpoint stores floating-point weights (F32).");
        }
    }

    private static string CheckFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"The checkpoint folder '{folder}' does not exist.");
        return folder;
    }
}
