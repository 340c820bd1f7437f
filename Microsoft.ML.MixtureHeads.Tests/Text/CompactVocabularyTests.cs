using Microsoft.ML.MixtureHeads.Scoring;
using Microsoft.ML.MixtureHeads.Text;

namespace Microsoft.ML.MixtureHeads.Tests.Text;

/// <summary>Building, mapping and round-tripping the compact vocabulary, on hand-counted rows and on real mails.</summary>
public sealed class CompactVocabularyTests
{
    // Stage ids 0-2 are markers; counts of the tokens: 5 x3, 7 x3, 9 x1, 4 x2, 12 x2.
    private static readonly long[][] Rows = [[1, 5, 7, 5, 9], [1, 4, 2, 7, 12], [1, 5, 7, 4, 12]];

    [Fact]
    public void Keeps_the_most_frequent_tokens_ties_by_id_and_counts_no_markers()
    {
        var vocabulary = CompactVocabulary.Build(Rows, stageIdSpace: 20);
        Assert.Equal([5, 7, 4, 12, 9], vocabulary.Tokens);
        Assert.Equal(4 + 5, vocabulary.Size);
        Assert.Equal(20, vocabulary.StageIdSpace);

        Assert.Equal([5, 7, 4, 12], CompactVocabulary.Build(Rows, minCount: 2, stageIdSpace: 20).Tokens);
        Assert.Equal([5, 7], CompactVocabulary.Build(Rows, maxSize: 6, stageIdSpace: 20).Tokens);
        Assert.Empty(CompactVocabulary.Build(Rows, maxSize: 4, stageIdSpace: 20).Tokens);
    }

    [Fact]
    public void Maps_markers_to_reserved_indices_and_the_rest_to_unknown()
    {
        var vocabulary = CompactVocabulary.Build(Rows, minCount: 2, stageIdSpace: 20);
        long[] stageIds = [0, 1, 2, 5, 7, 4, 12, 9, 3, 19, 20, -1, long.MaxValue];
        long[] expected = [0, 2, 3, 4, 5, 6, 7, 1, 1, 1, 1, 1, 1];
        Assert.Equal(expected, stageIds.Select(vocabulary.Map));
        var mapped = new long[stageIds.Length];
        vocabulary.Map(stageIds, mapped);
        Assert.Equal(expected, mapped);

        long[] table = vocabulary.ToLookupTable();
        Assert.Equal(20, table.Length);
        Assert.Equal(expected[..10], stageIds[..10].Select(id => table[id]));
        Assert.Equal(20 - 3 - 4, table.Count(index => index == CompactVocabulary.Unknown));   // all but the markers and the 4 kept
    }

    [Fact]
    public void Round_trips_through_its_lookup_table_and_json()
    {
        var vocabulary = CompactVocabulary.Build(Rows, stageIdSpace: 20);
        foreach (var copy in new[] { CompactVocabulary.FromLookupTable(vocabulary.ToLookupTable()), CompactVocabulary.FromJson(vocabulary.ToJson()) })
        {
            Assert.Equal(vocabulary.Tokens, copy.Tokens);
            Assert.Equal(vocabulary.StageIdSpace, copy.StageIdSpace);
            Assert.Equal(vocabulary.ToLookupTable(), copy.ToLookupTable());
        }
        Assert.Equal("""{"stageIdSpace":20,"tokens":[5,7,4,12,9]}""", vocabulary.ToJson());
    }

    [Fact]
    public void Rejects_bad_arguments_tables_and_json()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CompactVocabulary.Build(Rows, minCount: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CompactVocabulary.Build(Rows, maxSize: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => CompactVocabulary.Build(Rows, stageIdSpace: 3));
        Assert.Contains("12", Assert.Throws<ArgumentOutOfRangeException>(() => CompactVocabulary.Build(Rows, stageIdSpace: 10)).Message);
        Assert.Throws<ArgumentException>(() => CompactVocabulary.Build(Rows, stageIdSpace: 20).Map([1, 2], new long[3]));

        long[] table = CompactVocabulary.Build(Rows, stageIdSpace: 20).ToLookupTable();
        foreach (var (entry, value) in new[] { (1, 1L), (9, 4L), (9, 3L), (4, 40L) })   // marker wrong, index twice, reserved index, gap
        {
            long[] broken = (long[])table.Clone();
            broken[entry] = value;
            Assert.Throws<InvalidDataException>(() => CompactVocabulary.FromLookupTable(broken));
        }
        foreach (string json in new[] { "{", "null", """{"stageIdSpace":20}""", """{"stageIdSpace":20,"tokens":[5,5]}""", """{"stageIdSpace":20,"tokens":[1]}""", """{"stageIdSpace":2,"tokens":[]}""" })
            Assert.Throws<InvalidDataException>(() => CompactVocabulary.FromJson(json));
    }

    [Fact]
    public void Built_from_real_mails_it_maps_unseen_words_to_unknown()
    {
        var mails = SpamMails.Messages;
        var vocabulary = CompactVocabulary.Build(mails.Where((_, i) => i % 2 == 0).Select(m => TextTokenIds.Encode(m.Text)), minCount: 3, maxSize: 8000);

        Assert.Equal(8000, vocabulary.Size);
        Assert.Equal(TextTokenIds.IdSpaceSize, vocabulary.StageIdSpace);
        var common = TextTokenIds.Encode(" the money");
        Assert.All(common.Skip(1).Select(vocabulary.Map), index => Assert.InRange(index, CompactVocabulary.ReservedCount, 999));
        var unseen = TextTokenIds.Encode("Zqxjv Wkhpt Qrzzl");
        Assert.Equal(CompactVocabulary.Start, vocabulary.Map(unseen[0]));
        Assert.Contains(CompactVocabulary.Unknown, unseen.Skip(1).Select(vocabulary.Map));
    }
}
