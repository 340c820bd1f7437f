using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Tests.Parity;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Onnx;

/// <summary>
/// Our ONNX bytes as an ML.NET stage (<c>ApplyOnnxModel</c> over an <see cref="IDataView"/>), and the temp files
/// ML.NET 5.0.1 leaves in <see cref="MLContext.TempFilePath"/> (each test gives its MLContext a private folder).
/// </summary>
public sealed class OnnxMlNetTests : IDisposable
{
    private readonly DirectoryInfo _tempFiles = Directory.CreateTempSubdirectory("mixtureheads-onnx-");
    private readonly MLContext _ml;

    public OnnxMlNetTests() => _ml = new MLContext(seed: 1) { TempFilePath = _tempFiles.FullName };

    public void Dispose() => _tempFiles.Delete(recursive: true);

    private sealed class Row
    {
        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>Linear(4, 3) + softmax: input column "Features" (4 floats), output column "Score", symbolic batch.</summary>
    private static (byte[] Bytes, ExportableLinear Linear) TinyClassifier()
    {
        manual_seed(50);
        var linear = new ExportableLinear(4, 3);
        var g = new OnnxGraphBuilder();
        var logits = linear.EmitOnnx(g, g.Input("Features", OnnxElementType.Float, "batch", 4), "linear");
        g.Output(g.Softmax(logits), "Score", OnnxElementType.Float, "batch", 3);
        return (g.ToBytes(), linear);
    }

    private IDataView Rows(Tensor features) =>
        _ml.Data.LoadFromEnumerable(Enumerable.Range(0, (int)features.shape[0]).Select(i => new Row { Features = features[i].data<float>().ToArray() }).ToList());

    private Tensor Scores(ITransformer transformer, IDataView data) =>
        tensor(_ml.Data.CreateEnumerable<ScoreRow>(transformer.Transform(data), reuseRowObject: false).SelectMany(r => r.Score).ToArray()).view(-1, 3);

    [Fact]
    public void ApplyOnnxModel_from_a_stream_scores_exactly_like_OnnxSession()
    {
        using var scope = NewDisposeScope();
        var (bytes, linear) = TinyClassifier();
        var features = randn(6, 4);
        var data = Rows(features);
        using var stream = new MemoryStream(bytes);
        var transformer = _ml.Transforms.ApplyOnnxModel(["Score"], ["Features"], stream).Fit(data);

        Assert.Equal("Vector<Single, 1, 3>", transformer.GetOutputSchema(data.Schema)["Score"].Type.ToString());   // the symbolic batch dim becomes 1
        var scores = Scores(transformer, data);
        using var session = new OnnxSession(bytes);
        ParityAssert.Close("ML.NET vs OnnxSession", session.Run(("Features", features))["Score"], scores, new Tolerance("exact", 0, 0));
        ParityAssert.Close("ML.NET vs TorchSharp", linear.forward(features).softmax(-1), scores, Tolerance.Fp32);
        ((IDisposable)transformer).Dispose();
    }

    /// <summary>ML.NET 5.0.1 writes the stream to a randomly named file in TempFilePath (our weights in clear) and
    /// does not delete it when the transformer is disposed; whoever calls ApplyOnnxModel(Stream) must.</summary>
    [Fact]
    public void ApplyOnnxModel_from_a_stream_leaves_the_model_in_TempFilePath_even_after_Dispose()
    {
        using var scope = NewDisposeScope();
        var (bytes, _) = TinyClassifier();
        var data = Rows(randn(2, 4));
        using var stream = new MemoryStream(bytes);
        var transformer = _ml.Transforms.ApplyOnnxModel(["Score"], ["Features"], stream).Fit(data);

        var tempFile = Assert.Single(_tempFiles.GetFiles());
        Assert.Equal(bytes, File.ReadAllBytes(tempFile.FullName));
        ((IDisposable)transformer).Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(File.Exists(tempFile.FullName), "ML.NET now deletes it: drop the clean-up in Persistence");
        File.Delete(tempFile.FullName);
    }

    /// <summary>The clean alternative: a model file we own is used in place (no copy); ML.NET reads it again by path
    /// when saving, so it must live as long as the transformer; the copy <c>Model.Load</c> makes goes with Dispose.</summary>
    [Fact]
    public void A_model_file_we_own_is_not_copied_and_the_copy_Model_Load_makes_goes_with_Dispose()
    {
        using var scope = NewDisposeScope();
        var (bytes, _) = TinyClassifier();
        var features = randn(3, 4);
        var data = Rows(features);
        var ours = Path.Combine(_tempFiles.FullName, "model.onnx");
        File.WriteAllBytes(ours, bytes);
        var transformer = _ml.Transforms.ApplyOnnxModel(["Score"], ["Features"], ours).Fit(data);
        Assert.Equal([ours], _tempFiles.GetFiles().Select(f => f.FullName));

        var scores = Scores(transformer, data);
        var zip = Path.Combine(_tempFiles.FullName, "model.zip");
        _ml.Model.Save(transformer, data.Schema, zip);
        ((IDisposable)transformer).Dispose();
        File.Delete(ours);

        var loaded = _ml.Model.Load(zip, out _);
        Assert.Single(_tempFiles.GetFiles(), f => f.Name != "model.zip");
        ParityAssert.Close("loaded", scores, Scores(loaded, data), new Tolerance("exact", 0, 0));
        ((IDisposable)loaded).Dispose();
        Assert.Equal(["model.zip"], _tempFiles.GetFiles().Select(f => f.Name));
    }
}
