using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>The one JSON setting for architecture records saved inside models: enums by name, indented.</summary>
internal static class ModelJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json, string what) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new InvalidDataException($"{what}: the saved architecture is empty.");
}
