using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// The input side of an exported text model: stage token ids [batch, sequence] in, compact ids and the key-padding
/// mask out, with the vocabulary as an initializer so the saved model needs no state outside its graph.
/// <see cref="VocabularyLookup"/> is the same mapping inside the network.
/// </summary>
internal static class TokenInputOnnx
{
    /// <summary>The initializer holding <see cref="CompactVocabulary.ToLookupTable"/>.</summary>
    public const string LookupTableName = "vocabulary.lookup_table";

    /// <summary>
    /// Declares the int64 input <paramref name="inputName"/> [batch, sequence] (both symbolic), keeps the first
    /// <paramref name="maxLength"/> ids of each row and maps them through the vocabulary; ids outside the stage id
    /// space count as unknown.
    /// </summary>
    /// <returns>Compact ids [batch, min(sequence, maxLength)] (int64) and the mask of the same shape (bool, true = real token).</returns>
    public static (string Ids, string Mask) Emit(OnnxGraphBuilder g, string inputName, VocabularyLookup vocabulary, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        string stageIds = g.Input(inputName, OnnxElementType.Int64, "batch", "sequence");
        string kept = g.Slice(stageIds, starts: [0], ends: [maxLength], axes: [1]);                           // [B, L]
        string ids = vocabulary.EmitOnnx(g, kept, "vocabulary");                                              // [B, L]
        string mask = g.Not(g.Equal(ids, g.Scalar(CompactVocabulary.Padding)));                              // [B, L]
        return (ids, mask);
    }

    /// <summary>The vocabulary an exported model was built with.</summary>
    /// <exception cref="InvalidDataException">The model has no valid lookup table.</exception>
    public static CompactVocabulary ReadVocabulary(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var table = model.FindInitializer(LookupTableName)
            ?? throw new InvalidDataException($"The ONNX model has no vocabulary initializer '{LookupTableName}'.");
        if (table.ElementType != OnnxElementType.Int64 || table.Dims.Count != 1)
            throw new InvalidDataException($"The vocabulary initializer is {table}; expected a 1-d Int64 table.");
        return CompactVocabulary.FromLookupTable(table.ToInt64s());
    }
}
