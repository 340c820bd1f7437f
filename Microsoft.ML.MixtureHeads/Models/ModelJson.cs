using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>The one JSON setting for architecture records saved inside models: enums by name, indented.</summary>
internal static class ModelJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>A config as JSON, with the properties of its runtime type.</summary>
    public static string Serialize(ModelConfig config) => JsonSerializer.Serialize(config, config.GetType(), Options);

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json, string what) => (T)Deserialize(json, typeof(T), what);

    /// <exception cref="InvalidDataException">The JSON is empty or not a <paramref name="type"/>.</exception>
    public static object Deserialize(string json, Type type, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(json, type, Options) ?? throw new InvalidDataException($"{what}: the saved architecture is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{what}: the saved architecture is not a valid {type.Name}: {e.Message}", e);
        }
    }
}
