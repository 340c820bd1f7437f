using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Onnx;
using Microsoft.ML.MixtureHeads.Text;
using static TorchSharp.torch;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>The exported input side (truncate, map, mask) in ONNX Runtime and in ML.NET against the C# mapping.</summary>
public sealed class TokenInputOnnxTests : IDisposable
{
    private const string Input = TextTokenization.TokenIdsColumn;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("mixtureheads-textonnx-");

    public void Dispose() => _temp.Delete(recursive: true);

    /// <summary>A graph that only emits the input side: outputs "CompactIds" (int64) and "Mask" (bool), [batch, length].</summary>
    private static byte[] InputGraph(CompactVocabulary vocabulary, int maxLength)
    {
        var g = new OnnxGraphBuilder();
        using var lookup = new VocabularyLookup(vocabulary);
        var (ids, mask) = TokenInputOnnx.Emit(g, Input, lookup, maxLength);
        g.Output(ids, "CompactIds", OnnxElementType.Int64, "batch", "length");
        g.Output(mask, "Mask", OnnxElementType.Bool, "batch", "length");
        return g.ToBytes();
    }

    /// <summary>Rows right-padded with stage id 0 into one [N, longest] tensor.</summary>
    private static Tensor Padded(long[][] rows)
    {
        int longest = rows.Max(r => r.Length);
        var flat = new long[rows.Length * longest];
        for (int i = 0; i < rows.Length; i++) rows[i].CopyTo(flat, i * longest);
        return tensor(flat, [rows.Length, longest]);
    }

    private static (long[,] Ids, bool[,] Mask) RunOrt(OnnxSession session, Tensor stageIds)
    {
        var outputs = session.Run((Input, stageIds));
        using var ids = outputs["CompactIds"];
        using var mask = outputs["Mask"];
        return (ToArray<long>(ids), ToArray<bool>(mask));
    }

    private static T[,] ToArray<T>(Tensor t) where T : unmanaged
    {
        var values = t.data<T>().ToArray();
        var result = new T[t.shape[0], t.shape[1]];
        for (int i = 0; i < values.Length; i++) result[i / result.GetLength(1), i % result.GetLength(1)] = values[i];
        return result;
    }

    [Fact]
    public void Hand_checked_batch_truncates_maps_unknowns_and_masks_padding()
    {
        var vocabulary = CompactVocabulary.Build([[1, 5, 7, 5, 9], [1, 4, 2, 7, 12], [1, 5, 7, 4, 12]], minCount: 2, stageIdSpace: 20);   // 5, 7, 4, 12 -> 4, 5, 6, 7
        long[][] rows = [[1, 5, 9, 7, 2, 12, 4], [1], [1, 19, 25, -1]];
        long[,] expected = { { 2, 4, 1, 5, 3 }, { 2, 0, 0, 0, 0 }, { 2, 1, 1, 1, 0 } };
        bool[,] expectedMask = { { true, true, true, true, true }, { true, false, false, false, false }, { true, true, true, true, false } };

        using var scope = NewDisposeScope();
        using var session = new OnnxSession(InputGraph(vocabulary, maxLength: 5));
        var (ids, mask) = RunOrt(session, Padded(rows));
        Assert.Equal(expected, ids);
        Assert.Equal(expectedMask, mask);
        var batch = TokenBatch.CompactIds(rows, vocabulary, maxLength: 5);
        Assert.Equal(expected, ToArray<long>(batch));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(4096)]   // longer than every row: L is the longest row
    public void Real_mails_in_ONNX_Runtime_equal_the_CSharp_batch_padded_and_one_by_one(int maxLength)
    {
        var mails = SpamMails.Messages;
        var vocabulary = CompactVocabulary.Build(mails.Where((_, i) => i % 3 == 0).Select(m => TextTokenIds.Encode(m.Text)), minCount: 2, maxSize: 5000);
        long[][] rows = [.. mails.Where((_, i) => i % 97 == 1).Select(m => TextTokenIds.Encode(m.Text)),
            TextTokenIds.Encode(""), TextTokenIds.Encode("Zqxjv Wkhpt floopdeeblarg"), TextTokenIds.Encode(string.Concat(Enumerable.Repeat(mails[1].Text, 40)))];

        using var scope = NewDisposeScope();
        using var session = new OnnxSession(InputGraph(vocabulary, maxLength));
        var (ids, mask) = RunOrt(session, Padded(rows));
        var batch = TokenBatch.CompactIds(rows, vocabulary, maxLength);
        Assert.Equal(ToArray<long>(batch), ids);
        Assert.Equal(ToArray<bool>(batch.ne(CompactVocabulary.Padding)), mask);
        Assert.Equal(Math.Min(maxLength, rows.Max(r => r.Length)), ids.GetLength(1));
        Assert.Contains(CompactVocabulary.Unknown, rows[^2].Select(vocabulary.Map));

        for (int i = 0; i < rows.Length; i++)
        {
            var (single, singleMask) = RunOrt(session, tensor(rows[i], [1, rows[i].Length]));
            int length = Math.Min(rows[i].Length, maxLength);
            Assert.Equal(length, single.GetLength(1));
            var expected = new long[length];
            vocabulary.Map(rows[i].AsSpan(0, length), expected);
            Assert.Equal(expected, single.Cast<long>());
            Assert.All(singleMask.Cast<bool>(), Assert.True);
        }
    }

    [Fact]
    public void The_vocabulary_is_read_back_from_the_exported_model()
    {
        var vocabulary = CompactVocabulary.Build(SpamMails.Messages.Take(200).Select(m => TextTokenIds.Encode(m.Text)), minCount: 2);
        var model = OnnxModelReader.Read(InputGraph(vocabulary, maxLength: 128));
        var read = TokenInputOnnx.ReadVocabulary(model);
        Assert.Equal(vocabulary.Tokens, read.Tokens);
        Assert.Equal(vocabulary.StageIdSpace, read.StageIdSpace);

        var g = new OnnxGraphBuilder();
        g.Output(g.Identity(g.Input("x", OnnxElementType.Float, 1)), "y", OnnxElementType.Float, 1);
        Assert.Throws<InvalidDataException>(() => TokenInputOnnx.ReadVocabulary(OnnxModelReader.Read(g.ToBytes())));
    }

    [Fact]
    public void ML_NET_ApplyOnnxModel_takes_the_stage_column_of_varying_lengths()
    {
        var ml = new MLContext(seed: 1) { TempFilePath = _temp.FullName };
        var mails = SpamMails.Messages.Where((_, i) => i % 61 == 0).Select(m => m.Text).Append("").Append("Zqxjv Wkhpt").ToList();
        var vocabulary = CompactVocabulary.Build(SpamMails.Messages.Take(500).Select(m => TextTokenIds.Encode(m.Text)), minCount: 2);
        const int maxLength = 96;
        string onnxFile = Path.Combine(_temp.FullName, "input.onnx");
        File.WriteAllBytes(onnxFile, InputGraph(vocabulary, maxLength));

        var data = ml.Data.LoadFromEnumerable(mails.Select(t => new TextRow { Text = t }));
        var (stages, idsColumn, _) = TextInput.Stages(ml, data.Schema["Text"]);
        Assert.Equal(Input, idsColumn);
        var model = stages.Append(ml.Transforms.ApplyOnnxModel(["CompactIds", "Mask"], [idsColumn], onnxFile)).Fit(data);
        var output = model.Transform(data);
        // A [batch, length] output with a symbolic length comes out as a variable-length vector.
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Int64), output.Schema["CompactIds"].Type);
        Assert.Equal(new VectorDataViewType(BooleanDataViewType.Instance), output.Schema["Mask"].Type);

        var ids = output.GetColumn<VBuffer<long>>("CompactIds").Select(v => v.DenseValues().ToArray()).ToArray();
        var mask = output.GetColumn<VBuffer<bool>>("Mask").Select(v => v.DenseValues().ToArray()).ToArray();
        for (int i = 0; i < mails.Count; i++)
        {
            var stage = TextTokenIds.Encode(mails[i]);
            var expected = new long[Math.Min(stage.Length, maxLength)];
            vocabulary.Map(stage.AsSpan(0, expected.Length), expected);
            Assert.Equal(expected, ids[i]);
            Assert.Equal(expected.Select(_ => true), mask[i]);
        }
        Assert.Contains(ids, row => row.Length == maxLength);
        Assert.Contains(ids, row => row.Length == 1);
        (model as IDisposable)?.Dispose();
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
