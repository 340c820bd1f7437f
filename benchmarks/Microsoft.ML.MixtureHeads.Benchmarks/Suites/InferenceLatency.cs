using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Benchmarks;

/// <summary>Inference latency of one trained classifier: the TorchSharp network and the saved ML.NET .zip.</summary>
/// <param name="TorchSharpBatch1">TorchSharp forward (eval, no grad), one example, ms.</param>
/// <param name="TorchSharpBatch64">TorchSharp forward, 64 examples, ms.</param>
/// <param name="ZipPredictionEngine">The loaded .zip through an ML.NET PredictionEngine, one example, ms.</param>
/// <param name="ZipTransform64">The loaded .zip's Transform (ML.NET's OnnxTransformer, row by row), 64 rows, ms.</param>
/// <param name="BatchedTransform64">Our fitted transformer's Transform (the same graph, ONNX Runtime on batches), 64 rows, ms.</param>
internal sealed record InferenceLatency(double TorchSharpBatch1, double TorchSharpBatch64, double ZipPredictionEngine, double ZipTransform64, double BatchedTransform64)
{
    /// <summary>Measures all five on the first 64 rows of <paramref name="rows"/>.</summary>
    public static InferenceLatency Measure<TRow>(IMixtureHeadsNetwork<Tensor> network, Tensor networkInput64, ITransformer fitted, DataViewSchema schema,
        IReadOnlyList<TRow> rows, bool quick) where TRow : class, new()
    {
        int iterations = quick ? 3 : 15;
        network.Module.eval();
        double torch1, torch64;
        using (no_grad())
        {
            var one = networkInput64.narrow(0, 0, 1);
            torch1 = Stopwatches.MedianMilliseconds(() => { using var s = NewDisposeScope(); network.forward(one); }, 3, iterations);
            torch64 = Stopwatches.MedianMilliseconds(() => { using var s = NewDisposeScope(); network.forward(networkInput64); }, 2, iterations);
        }

        var ml = new MLContext(seed: 0);
        var sample = rows.Take(64).ToList();
        var data = ml.Data.LoadFromEnumerable(sample);
        double batched = Stopwatches.MedianMilliseconds(() => fitted.Transform(data).GetColumn<float[]>("Score").Count(), 2, iterations);

        string zip = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(fitted, schema, zip);
            using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(zip, out _);
            using var engine = ml.Model.CreatePredictionEngine<TRow, ScoreOnly>(loaded);
            int next = 0;
            double engine1 = Stopwatches.MedianMilliseconds(() => engine.Predict(sample[next++ % sample.Count]), 5, iterations * 4);
            double zip64 = Stopwatches.MedianMilliseconds(() => loaded.Transform(data).GetColumn<float[]>("Score").Count(), 2, iterations);
            return new InferenceLatency(torch1, torch64, engine1, zip64, batched);
        }
        finally { File.Delete(zip); }
    }

    private sealed class ScoreOnly
    {
        public float[] Score { get; set; } = [];
    }
}
