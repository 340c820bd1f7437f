using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.MixtureHeads.Layers;
using Microsoft.ML.MixtureHeads.Models;

namespace Microsoft.ML.MixtureHeads.Persistence;

/// <summary>
/// The <c>config.json</c> of a causal-LM checkpoint folder, shared with the PyTorch module (python/mixtureheads_lm):
/// <c>{"format": "Microsoft.ML.MixtureHeads.CausalLM", "format_version": 1, "kind": "causal_lm", "config": {...}}</c>,
/// where "config" holds the settable properties of <see cref="CausalLMConfig"/> under their .NET names (enums by
/// name) and "MoE" those of <see cref="MultiHeadMoEOptions"/> or null. Unknown keys are errors on both sides.
/// </summary>
internal static class CausalLMConfigJson
{
    public const string Format = "Microsoft.ML.MixtureHeads.CausalLM";
    public const int FormatVersion = 1;

    /// <summary>The document for <paramref name="config"/>.</summary>
    public static string Write(CausalLMConfig config)
    {
        var body = JsonSerializer.SerializeToNode(config, ModelJson.Options)!.AsObject();
        KeepSettable(body, typeof(CausalLMConfig));
        if (body["MoE"] is JsonObject moe) KeepSettable(moe, typeof(MultiHeadMoEOptions));
        var document = new JsonObject
        {
            ["format"] = Format,
            ["format_version"] = FormatVersion,
            ["kind"] = MoHCausalLM.KindName,
            ["config"] = body,
        };
        return document.ToJsonString(ModelJson.Options);
    }

    /// <summary>The validated config that <paramref name="json"/>, read from <paramref name="path"/>, describes.</summary>
    /// <exception cref="InvalidDataException">Not such a document, another format version, an unknown key, or an invalid
    /// config (the message names the file and the key or property).</exception>
    public static CausalLMConfig Read(string json, string path)
    {
        JsonObject document;
        try
        {
            document = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        string? format = Text(document, "format");
        if (format != Format) throw new InvalidDataException($"{path}: format is '{format}', expected '{Format}'.");
        if (document["format_version"] is not JsonValue version || !version.TryGetValue(out int number) || number != FormatVersion)
            throw new InvalidDataException($"{path}: format_version {document["format_version"]?.ToJsonString() ?? "missing"}; this library reads version {FormatVersion}.");
        string? kind = Text(document, "kind");
        if (kind != MoHCausalLM.KindName) throw new InvalidDataException($"{path}: kind is '{kind}', expected '{MoHCausalLM.KindName}'.");
        if (document["config"] is not JsonObject body) throw new InvalidDataException($"{path}: no 'config' object.");
        RejectUnknown(body, typeof(CausalLMConfig), path, "config");
        if (body["MoE"] is JsonObject moe) RejectUnknown(moe, typeof(MultiHeadMoEOptions), path, "config.MoE");

        var config = ModelJson.Deserialize<CausalLMConfig>(body.ToJsonString(), path);
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: the architecture is invalid: {e.Message}", e);
        }
        return config;
    }

    private static string? Text(JsonObject document, string key) =>
        document[key] is JsonValue value && value.TryGetValue(out string? text) ? text : null;

    private static HashSet<string> SettableNames(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    private static void KeepSettable(JsonObject body, Type type)
    {
        var keep = SettableNames(type);
        foreach (string key in body.Select(kv => kv.Key).Where(k => !keep.Contains(k)).ToList()) body.Remove(key);
    }

    private static void RejectUnknown(JsonObject body, Type type, string path, string where)
    {
        var known = SettableNames(type);
        string? unknown = body.Select(kv => kv.Key).FirstOrDefault(k => !known.Contains(k));
        if (unknown is not null)
            throw new InvalidDataException($"{path}: {where} has the unknown key '{unknown}' (known: {string.Join(", ", known.Order(StringComparer.Ordinal))}).");
    }
}
