using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>The ML.NET tokenization stages on real SpamAssassin mails, and their save/load round trip in this process.</summary>
public sealed class TextTokenizationStageTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("mixtureheads-text-");
    private readonly MLContext _ml;

    public TextTokenizationStageTests() => _ml = new MLContext(seed: 1) { TempFilePath = _temp.FullName };

    public void Dispose() => _temp.Delete(recursive: true);

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    private static string HugeText() => string.Concat(Enumerable.Repeat(SpamMails.Messages[0].Text + "\n", 60));

    private (ITransformer Model, long[][] Ids) Tokenize(IDataView data, string column = "Text")
    {
        var (stages, idsColumn, _) = TextInput.Stages(_ml, data.Schema[column]);
        var model = stages.Fit(data);
        return (model, TokenIdReader.ReadAll(model.Transform(data), idsColumn));
    }

    [Fact]
    public void Every_SpamAssassin_mail_tokenizes_and_decodes_back_to_its_text()
    {
        var mails = SpamMails.Messages;
        var (_, ids) = Tokenize(_ml.Data.LoadFromEnumerable(mails));

        Assert.Equal(mails.Count, ids.Length);
        int capped = 0;
        for (int i = 0; i < mails.Count; i++)
        {
            Assert.Equal(TextTokenIds.Start, ids[i][0]);
            Assert.InRange(ids[i].Length, 1, 1 + TextTokenIds.MaxTokens);
            Assert.All(ids[i].Skip(1), id => Assert.InRange(id, TextTokenIds.Offset, TextTokenIds.IdSpaceSize - 1));
            string decoded = SpamMails.Decode(ids[i].Skip(1));
            bool fits = mails[i].Text.Length <= TextTokenIds.MaxCharacters && TextTokenIds.Cl100k.CountTokens(mails[i].Text) <= TextTokenIds.MaxTokens;
            if (fits)
                Assert.Equal(mails[i].Text, decoded);
            else
            {
                capped++;
                Assert.StartsWith(decoded, mails[i].Text, StringComparison.Ordinal);
            }
        }
        Assert.InRange(capped, 1, mails.Count / 4);   // the corpus has long mails, but most fit
    }

    [Fact]
    public void Empty_and_huge_texts_work_in_the_stage_and_the_column_is_a_variable_length_int64_vector()
    {
        var data = _ml.Data.LoadFromEnumerable([new TextRow { Text = "" }, new TextRow { Text = HugeText() }, new TextRow { Text = "hi" }]);
        var (model, ids) = Tokenize(data);

        var type = Assert.IsType<VectorDataViewType>(model.GetOutputSchema(data.Schema)[TextTokenization.TokenIdsColumn].Type);
        Assert.Equal(NumberDataViewType.Int64, type.ItemType);
        Assert.False(type.IsKnownSize);
        Assert.Equal([TextTokenIds.Start], ids[0]);
        Assert.Equal(1 + TextTokenIds.MaxTokens, ids[1].Length);
        Assert.Equal(TextTokenIds.Encode("hi"), ids[2]);
    }

    [Fact]
    public void Pair_stage_gives_start_subject_separator_body()
    {
        var mails = SpamMails.Messages.Where((_, i) => i % 50 == 0).ToList();
        var data = _ml.Data.LoadFromEnumerable(mails);
        var (stages, idsColumn, temporary) = TextInput.Stages(_ml, data.Schema["Subject"], data.Schema["Body"]);
        var ids = TokenIdReader.ReadAll(stages.Fit(data).Transform(data), idsColumn);

        Assert.Equal([TextPairTokenization.FirstTextColumn, TextPairTokenization.SecondTextColumn, TextTokenization.TokenIdsColumn], temporary);
        for (int i = 0; i < mails.Count; i++)
        {
            Assert.Equal(TextTokenIds.Start, ids[i][0]);
            int separator = Array.IndexOf(ids[i], TextTokenIds.Separator);
            Assert.Equal(-1, Array.IndexOf(ids[i], TextTokenIds.Separator, separator + 1));
            Assert.Equal(mails[i].Subject, SpamMails.Decode(ids[i][1..separator]));
            Assert.StartsWith(SpamMails.Decode(ids[i][(separator + 1)..]), mails[i].Body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_column_that_is_not_text_is_rejected_by_name()
    {
        var data = SpamAssassin.Load(_ml);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TextInput.Stages(_ml, data.Schema["IsSpam"]));
        Assert.Contains("'IsSpam'", error.Message);
        error = Assert.Throws<ArgumentOutOfRangeException>(() => TokenIdReader.ReadAll(data, "Text"));
        Assert.Contains("'Text'", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenIdReader.ReadAll(data, "Missing"));
    }

    [Fact]
    public void Saved_and_loaded_pipeline_gives_identical_ids()
    {
        var texts = SpamMails.Messages.Where((_, i) => i % 20 == 0).Select(m => new TextRow { Text = m.Text })
            .Append(new TextRow { Text = "" }).Append(new TextRow { Text = HugeText() }).ToList();
        var data = _ml.Data.LoadFromEnumerable(texts);
        var (model, ids) = Tokenize(data);
        string zip = Path.Combine(_temp.FullName, "tokenize.zip");
        _ml.Model.Save(model, data.Schema, zip);

        var loadContext = new MLContext(seed: 2) { TempFilePath = _temp.FullName };
        var loaded = loadContext.Model.Load(zip, out var inputSchema);
        Assert.Equal(TextDataViewType.Instance, inputSchema["Text"].Type);
        var reloaded = TokenIdReader.ReadAll(loaded.Transform(data), TextTokenization.TokenIdsColumn);
        Assert.Equal(ids, reloaded);
    }
}
