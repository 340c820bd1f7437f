namespace Microsoft.ML.MixtureHeads.Tests.Reliability;

/// <summary><c>AtomicFile</c> and <c>SaveAtomically</c> in process: a failed write leaves the old file as it was and no temporary file behind.</summary>
public sealed class AtomicSaveTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("mixtureheads-atomic-").FullName;

    [Fact]
    public void A_write_that_fails_halfway_leaves_the_old_file_whole_and_no_temporary_file()
    {
        string path = Path.Combine(_folder, "model.zip");
        File.WriteAllBytes(path, [1, 2, 3]);

        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[10_000]);
            throw new IOException("disk full");
        }));

        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    [Fact]
    public void A_model_saved_atomically_replaces_the_old_one_and_loads()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { Key = "a" } });
        string path = Path.Combine(_folder, "model.zip");
        File.WriteAllBytes(path, [1, 2, 3]);

        ml.Model.SaveAtomically(ml.Transforms.Conversion.MapValueToKey("Key").Fit(data), data.Schema, path);

        var loaded = ml.Model.Load(path, out var schema);
        Assert.Equal("Key", schema.Single().Name);
        Assert.Equal([path], Directory.GetFiles(_folder));
    }

    [Fact]
    public void Saving_into_a_folder_that_does_not_exist_names_the_folder()
    {
        string missing = Path.Combine(_folder, "no-such-folder");

        var error = Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllBytes(Path.Combine(missing, "model.zip"), [1]));

        Assert.Contains(missing, error.Message);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class Row { public string Key { get; set; } = ""; }
}
