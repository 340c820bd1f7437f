namespace Microsoft.ML.MixtureHeads.Generation;

/// <summary>
/// The contract of an exported language-model decoder graph, shared by the exporter (TorchSharp side) and
/// <see cref="OnnxCausalLM"/>: input <c>input_ids</c> [B, T] int64 and, per layer i, <c>past_key_i</c> /
/// <c>past_value_i</c> [B, H, P, D] float (P may be 0); outputs <c>logits</c> [B, T, V] and <c>present_key_i</c> /
/// <c>present_value_i</c> [B, H, P + T, D]; the sizes and tokenizer under the metadata keys below.
/// </summary>
internal static class CausalLMDecoderGraph
{
    public const string InputIds = "input_ids";
    public const string Logits = "logits";

    public static string PastKey(int layer) => $"past_key_{layer}";
    public static string PastValue(int layer) => $"past_value_{layer}";
    public static string PresentKey(int layer) => $"present_key_{layer}";
    public static string PresentValue(int layer) => $"present_value_{layer}";

    public const string LayersKey = "mixtureheads.lm.layers";
    public const string HeadsKey = "mixtureheads.lm.heads";
    public const string HeadDimKey = "mixtureheads.lm.head_dim";
    public const string VocabularySizeKey = "mixtureheads.lm.vocabulary_size";
    public const string MaxLengthKey = "mixtureheads.lm.max_length";

    /// <summary>How text becomes ids: <see cref="ByteTokenizerName"/>, or absent when the caller brings token ids.</summary>
    public const string TokenizerKey = "mixtureheads.lm.tokenizer";

    /// <summary>The id that ends a text (generation stops there), when the tokenizer has one.</summary>
    public const string EndOfTextKey = "mixtureheads.lm.end_of_text";

    /// <summary>The <see cref="TokenizerKey"/> value of <see cref="Text.ByteTokenizer"/>.</summary>
    public const string ByteTokenizerName = "bytes";

    /// <summary>The <see cref="TokenizerKey"/> value of <see cref="Text.CompactCl100kCodec"/>; its vocabulary is under <see cref="VocabularyKey"/>.</summary>
    public const string CompactCl100kName = "cl100k-compact";

    /// <summary>The compact vocabulary as <see cref="Text.CompactVocabulary.ToJson"/> writes it.</summary>
    public const string VocabularyKey = "mixtureheads.lm.vocabulary";

    /// <summary>The zip entry a saved language model is stored under, when it is saved to a zip.</summary>
    public const string ZipEntryName = "causal_lm.onnx";
}
