using Microsoft.ML.MixtureHeads.Scoring;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.MixtureHeads.Text;

/// <summary>
/// Maps the tokenization stages' id space (<see cref="TextTokenIds"/>, about 100k ids) to a small embedding index
/// space built from the training texts: <see cref="Padding"/>, <see cref="Unknown"/>, <see cref="Start"/>,
/// <see cref="Separator"/>, then the kept tokens, most frequent first. Every id not kept maps to <see cref="Unknown"/>.
/// </summary>
/// <remarks>The vocabulary travels with the model as its <see cref="ToLookupTable">lookup table</see> (an ONNX
/// initializer the exported graph gathers from) and can be rebuilt from that table or from <see cref="ToJson"/>.</remarks>
public sealed class CompactVocabulary
{
    /// <summary>Index of padding (stage id <see cref="TextTokenIds.Padding"/>).</summary>
    public const long Padding = 0;

    /// <summary>Index of every token not in the vocabulary.</summary>
    public const long Unknown = 1;

    /// <summary>Index of the start marker (stage id <see cref="TextTokenIds.Start"/>).</summary>
    public const long Start = 2;

    /// <summary>Index of the pair separator (stage id <see cref="TextTokenIds.Separator"/>).</summary>
    public const long Separator = 3;

    /// <summary>Indices below this are reserved; kept tokens start here.</summary>
    public const int ReservedCount = 4;

    private readonly long[] _tokens;
    private readonly long[] _table;

    private CompactVocabulary(long[] tokens, long stageIdSpace)
    {
        CheckStageIdSpace(stageIdSpace);
        _tokens = tokens;
        _table = new long[stageIdSpace];
        Array.Fill(_table, Unknown);
        _table[TextTokenIds.Padding] = Padding;
        _table[TextTokenIds.Start] = Start;
        _table[TextTokenIds.Separator] = Separator;
        for (int i = 0; i < tokens.Length; i++)
        {
            long id = tokens[i];
            if (id < TextTokenIds.Offset || id >= stageIdSpace)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Kept token id {id} is outside the token range [{TextTokenIds.Offset}, {stageIdSpace}).");
            if (_table[id] != Unknown)
                throw new ArgumentException($"Token id {id} is listed twice.", nameof(tokens));
            _table[id] = ReservedCount + i;
        }
    }

    /// <summary>Embedding rows the vocabulary needs: the reserved indices plus the kept tokens.</summary>
    public int Size => ReservedCount + _tokens.Length;

    /// <summary>The size of the stage id space it maps (ids at or above it map to <see cref="Unknown"/>).</summary>
    public long StageIdSpace => _table.Length;

    /// <summary>The kept stage ids; the one at position <c>i</c> has index <c>ReservedCount + i</c>.</summary>
    public IReadOnlyList<long> Tokens => _tokens;

    /// <summary>
    /// Counts the token ids of <paramref name="rows"/> (markers are not counted) and keeps those seen at least
    /// <paramref name="minCount"/> times, most frequent first, ties by smaller id, until <see cref="Size"/> reaches
    /// <paramref name="maxSize"/>.
    /// </summary>
    /// <param name="rows">Token id rows as the tokenization stage produces them.</param>
    /// <param name="minCount">The fewest occurrences a token needs to be kept (at least 1).</param>
    /// <param name="maxSize">The most embedding rows, the <see cref="ReservedCount"/> reserved ones included.</param>
    /// <param name="stageIdSpace">The id space of the rows; <see cref="TextTokenIds.IdSpaceSize"/> unless given.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or a row holds an id outside the id space.</exception>
    public static CompactVocabulary Build(IEnumerable<long[]> rows, int minCount = 1, int maxSize = 32_768, long? stageIdSpace = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSize, ReservedCount);
        long space = stageIdSpace ?? TextTokenIds.IdSpaceSize;
        CheckStageIdSpace(space);
        var counts = new long[space];
        foreach (var row in rows)
        {
            foreach (long id in row)
            {
                if ((ulong)id >= (ulong)space)
                    throw new ArgumentOutOfRangeException(nameof(rows), $"Token id {id} is outside the stage id space [0, {space}).");
                counts[id]++;
            }
        }
        var kept = Enumerable.Range((int)TextTokenIds.Offset, (int)space - (int)TextTokenIds.Offset)
            .Where(id => counts[id] >= minCount)
            .OrderByDescending(id => counts[id]).ThenBy(id => id)
            .Take(maxSize - ReservedCount)
            .Select(id => (long)id)
            .ToArray();
        return new CompactVocabulary(kept, space);
    }

    /// <summary>The index of one stage id.</summary>
    public long Map(long stageId) => (ulong)stageId < (ulong)_table.Length ? _table[stageId] : Unknown;

    /// <summary>Maps <paramref name="stageIds"/> into <paramref name="destination"/> (of the same length).</summary>
    public void Map(ReadOnlySpan<long> stageIds, Span<long> destination)
    {
        if (destination.Length != stageIds.Length)
            throw new ArgumentException($"Destination holds {destination.Length} ids; the source {stageIds.Length}.", nameof(destination));
        for (int i = 0; i < stageIds.Length; i++) destination[i] = Map(stageIds[i]);
    }

    /// <summary>The index of every stage id 0 .. <see cref="StageIdSpace"/> - 1 (a new array).</summary>
    public long[] ToLookupTable() => (long[])_table.Clone();

    /// <summary>Rebuilds a vocabulary from its <see cref="ToLookupTable">lookup table</see>.</summary>
    /// <exception cref="InvalidDataException">The table is not one a vocabulary writes.</exception>
    public static CompactVocabulary FromLookupTable(ReadOnlySpan<long> table)
    {
        if (table.Length <= TextTokenIds.Offset || table[(int)TextTokenIds.Padding] != Padding
            || table[(int)TextTokenIds.Start] != Start || table[(int)TextTokenIds.Separator] != Separator)
            throw new InvalidDataException($"A vocabulary lookup table maps the marker ids 0, 1, 2 to {Padding}, {Start}, {Separator}; this one ({table.Length} entries) does not.");
        var byIndex = new Dictionary<long, long>();
        for (int id = (int)TextTokenIds.Offset; id < table.Length; id++)
        {
            long index = table[id];
            if (index == Unknown) continue;
            if (index < ReservedCount || !byIndex.TryAdd(index, id))
                throw new InvalidDataException($"Lookup table entry {id} holds index {index}: reserved or given twice.");
        }
        var tokens = new long[byIndex.Count];
        for (int i = 0; i < tokens.Length; i++)
            tokens[i] = byIndex.TryGetValue(ReservedCount + i, out long id)
                ? id
                : throw new InvalidDataException($"Lookup table has {tokens.Length} token indices but none is {ReservedCount + i}.");
        return new CompactVocabulary(tokens, table.Length);
    }

    /// <summary>The vocabulary as JSON: <c>{"stageIdSpace": n, "tokens": [kept stage ids in index order]}</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(new JsonForm(StageIdSpace, _tokens));

    /// <summary>Reads a vocabulary written by <see cref="ToJson"/>.</summary>
    /// <exception cref="InvalidDataException">The JSON is malformed or describes no valid vocabulary.</exception>
    public static CompactVocabulary FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var form = JsonSerializer.Deserialize<JsonForm>(json) ?? throw new InvalidDataException("The vocabulary JSON is null.");
            return new CompactVocabulary(form.Tokens?.ToArray() ?? throw new InvalidDataException("The vocabulary JSON has no \"tokens\"."), form.StageIdSpace);
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"Not a vocabulary: {e.Message}", e);
        }
    }

    private static void CheckStageIdSpace(long stageIdSpace)
    {
        if (stageIdSpace <= TextTokenIds.Offset || stageIdSpace > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(stageIdSpace), $"The stage id space must hold more than the {TextTokenIds.Offset} marker ids and fit an array; got {stageIdSpace}.");
    }

    private sealed record JsonForm(
        [property: JsonPropertyName("stageIdSpace")] long StageIdSpace,
        [property: JsonPropertyName("tokens")] long[]? Tokens);
}
