using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// Turns the ONNX stage's predicted class index into a scalar key column with the label's key values, using
/// standard, saveable ML.NET stages only.
/// </summary>
/// <remarks>
/// ML.NET's OnnxTransformer always yields vectors (an index arrives as Vector&lt;Int64, 1&gt;), and users expect
/// <c>PredictedLabel</c> to be a scalar key so that <c>MapKeyToValue</c> gives back the class names. The one
/// public stage that reduces a vector to a scalar is Hash with <c>combine</c>; hashing the K possible indices at
/// fit time gives K distinct hash values, and MapValue with <c>treatValuesAsKeyType</c> maps them to the class
/// names as a key type whose values appear in label-key order, so predicted key k is label key k.
/// </remarks>
internal static class PredictedLabelMapping
{
    public const string IndexColumn = "__MoH_PredictedIndex";
    public const string HashColumn = "__MoH_PredictedHash";

    /// <summary>Fits the two stages on <paramref name="scored"/> (which has <see cref="IndexColumn"/>).</summary>
    public static ITransformer Fit(MLContext mlContext, IDataView scored, IReadOnlyList<string> classNames, string outputColumn)
    {
        for (uint seed = 314489979; ; seed++)
        {
            var hash = mlContext.Transforms.Conversion.Hash(
                new HashingEstimator.ColumnOptions(HashColumn, IndexColumn, numberOfBits: 31, seed: seed, combine: true)).Fit(scored);
            uint[] hashes = HashesOfEveryIndex(mlContext, hash, classNames.Count);
            if (hashes.Distinct().Count() != hashes.Length) continue; // a collision among K values in 2^31: try the next seed

            var lookup = hashes.Select((h, k) => new KeyValuePair<uint, string>(h, classNames[k]));
            var map = mlContext.Transforms.Conversion.MapValue(outputColumn, lookup, HashColumn, treatValuesAsKeyType: true)
                .Fit(hash.Transform(scored));
            return hash.Append(map);
        }
    }

    private static uint[] HashesOfEveryIndex(MLContext mlContext, ITransformer hash, int classCount)
    {
        var schema = SchemaDefinition.Create(typeof(IndexRow));
        schema[IndexColumn].ColumnType = new VectorDataViewType(NumberDataViewType.Int64, 1);
        var probe = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, classCount).Select(k => new IndexRow { Index = [k] }), schema);
        return hash.Transform(probe).GetColumn<uint>(HashColumn).ToArray();
    }

    private sealed class IndexRow
    {
        [ColumnName(IndexColumn)]
        public long[] Index { get; set; } = [];
    }
}
