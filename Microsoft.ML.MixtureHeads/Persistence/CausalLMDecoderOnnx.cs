using System.Globalization;
using System.IO.Compression;
using Microsoft.ML.MixtureHeads.Generation;
using Microsoft.ML.MixtureHeads.Models;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// Saves a <see cref="MoHCausalLM"/> as an ONNX decoder graph with a key/value cache
/// (<see cref="MoHCausalLM.EmitDecoderOnnx"/>) that <see cref="OnnxCausalLM"/> in the scoring package runs without
/// TorchSharp. Besides every weight under its TorchSharp name, the graph's metadata holds the model kind and config
/// (as every exported model), the sizes the generator needs, and the tokenizer.
/// </summary>
public static class CausalLMDecoderOnnx
{
    /// <summary>The decoder graph of <paramref name="model"/> (exported in eval mode) as ONNX bytes.</summary>
    /// <param name="model">The language model.</param>
    /// <param name="codec">Its tokenizer, recorded so the generator can read and write text: a
    /// <see cref="ByteTokenizer"/> or a <see cref="CompactCl100kCodec"/> (its vocabulary goes into the metadata), or null
    /// for a model driven by token ids only.</param>
    /// <exception cref="NotSupportedException">The codec is not one the scoring package can rebuild.</exception>
    /// <exception cref="ArgumentException">The tokenizer's ids do not fit the model's vocabulary.</exception>
    public static byte[] Export(MoHCausalLM model, ITokenCodec? codec = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        var graph = new OnnxGraphBuilder();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            model.EmitDecoderOnnx(graph);
        }
        finally
        {
            if (wasTraining) model.train();
        }
        graph.SetMetadata(ExportedModel.FormatKey, ExportedModel.FormatVersion);
        graph.SetMetadata(ExportedModel.KindKey, model.Kind);
        graph.SetMetadata(ExportedModel.ConfigKey, ModelJson.Serialize(config));
        void Set(string key, long value) => graph.SetMetadata(key, value.ToString(CultureInfo.InvariantCulture));
        Set(CausalLMDecoderGraph.LayersKey, config.Depth);
        Set(CausalLMDecoderGraph.HeadsKey, config.Heads);
        Set(CausalLMDecoderGraph.HeadDimKey, config.AttentionOptions.ResolvedHeadDim);
        Set(CausalLMDecoderGraph.VocabularySizeKey, config.VocabularySize);
        Set(CausalLMDecoderGraph.MaxLengthKey, config.MaxLength);
        switch (codec)
        {
            case null:
                break;
            case ByteTokenizer:
                if (config.VocabularySize < ByteTokenizer.VocabularySize)
                    throw new ArgumentException(
                        $"A byte tokenizer needs a vocabulary of {ByteTokenizer.VocabularySize} ids; the model has {config.VocabularySize}.", nameof(codec));
                graph.SetMetadata(CausalLMDecoderGraph.TokenizerKey, CausalLMDecoderGraph.ByteTokenizerName);
                Set(CausalLMDecoderGraph.EndOfTextKey, ByteTokenizer.EndOfText);
                break;
            case CompactCl100kCodec compact:
                if (config.VocabularySize < compact.VocabularySize)
                    throw new ArgumentException(
                        $"The tokenizer's vocabulary has {compact.VocabularySize} ids; the model embeds only {config.VocabularySize}.", nameof(codec));
                graph.SetMetadata(CausalLMDecoderGraph.TokenizerKey, CausalLMDecoderGraph.CompactCl100kName);
                graph.SetMetadata(CausalLMDecoderGraph.VocabularyKey, compact.Vocabulary.ToJson());
                Set(CausalLMDecoderGraph.EndOfTextKey, CompactCl100kCodec.EndOfText);
                break;
            default:
                throw new NotSupportedException(
                    $"The decoder graph can record a ByteTokenizer or a CompactCl100kCodec; {codec.GetType().Name} is not one of them.");
        }
        return graph.ToBytes();
    }

    /// <summary>
    /// Writes <see cref="Export"/>'s bytes to <paramref name="path"/>: a <c>.zip</c> path gets a zip with the graph
    /// as the entry <c>causal_lm.onnx</c>, any other path the ONNX file itself. <see cref="OnnxCausalLM.Load"/> reads both.
    /// </summary>
    public static void Save(MoHCausalLM model, ITokenCodec? codec, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = Export(model, codec);
        if (!path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
        {
            File.WriteAllBytes(path, bytes);
            return;
        }
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        using var entry = zip.CreateEntry(CausalLMDecoderGraph.ZipEntryName, CompressionLevel.Fastest).Open();
        entry.Write(bytes);
    }
}
