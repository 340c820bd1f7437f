using System.Collections.Concurrent;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The one registry of model families and named architectures, in timm's spirit: kind -> family (config type and
/// factory), name -> config. Names read <c>{family}_{size}_{active head percent}</c>, e.g. <c>moh_vit_tiny_75</c>, and
/// work as a trainer's <c>Architecture</c>. Every family of this library registers itself; users add named configs
/// with <see cref="Register"/> and families of their own with <see cref="RegisterFamily"/>.
/// </summary>
public static class ModelRegistry
{
    private static readonly ConcurrentDictionary<string, ModelFamily> FamiliesByKind = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<Type, ModelFamily> FamiliesByConfig = new();
    private static readonly ConcurrentDictionary<string, ModelConfig> Configs = new(StringComparer.Ordinal);

    static ModelRegistry()
    {
        var families = typeof(ModelRegistry).Assembly.GetTypes()
            .Where(t => typeof(ModelFamily).IsAssignableFrom(t) && !t.IsAbstract && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (var type in families) RegisterFamily((ModelFamily)Activator.CreateInstance(type)!);
    }

    /// <summary>Adds a model family and its named configs.</summary>
    /// <exception cref="ArgumentException">Its kind or config type is taken by another family, or a named config is invalid.</exception>
    public static void RegisterFamily(ModelFamily family)
    {
        ArgumentNullException.ThrowIfNull(family);
        ArgumentException.ThrowIfNullOrWhiteSpace(family.Kind, nameof(family));
        var byKind = FamiliesByKind.GetOrAdd(family.Kind, family);
        var byConfig = FamiliesByConfig.GetOrAdd(family.ConfigType, family);
        if (byKind != family || byConfig != family)
            throw new ArgumentException($"A model family for kind '{family.Kind}' or config {family.ConfigType.Name} is registered already.", nameof(family));
        foreach (var (name, config) in family.NamedConfigs) Register(name, config);
    }

    /// <summary>Registers <paramref name="config"/> under <paramref name="name"/>, after validating it.</summary>
    /// <exception cref="ArgumentException">The name is taken by another config, the config's family is unknown, or
    /// the config is invalid (the message names the property).</exception>
    public static void Register(string name, ModelConfig config)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(config);
        FamilyOf(config);
        config.Validate();
        var registered = Configs.GetOrAdd(name, config);
        if (!registered.Equals(config))
            throw new ArgumentException($"The architecture name '{name}' is registered already with another config.", nameof(name));
    }

    /// <summary>Registered names in order, optionally only those matching a glob <paramref name="pattern"/>
    /// (<c>*</c> and <c>?</c>, e.g. "moh_vit_*") and of configs assignable to <paramref name="configType"/>.</summary>
    public static IReadOnlyList<string> List(string? pattern = null, Type? configType = null)
    {
        var match = pattern is null ? null : new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$");
        return Configs
            .Where(kv => (match is null || match.IsMatch(kv.Key)) && (configType is null || configType.IsInstanceOfType(kv.Value)))
            .Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The config registered as <paramref name="name"/>, which must be a <typeparamref name="TConfig"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No such config has that name (the message lists those that do).</exception>
    public static TConfig Get<TConfig>(string name) where TConfig : ModelConfig =>
        name is not null && Configs.TryGetValue(name, out var config) && config is TConfig typed
            ? typed
            : throw new ArgumentOutOfRangeException(nameof(name),
                $"No {typeof(TConfig).Name} architecture named '{name}'. Registered: {string.Join(", ", List(configType: typeof(TConfig)))}.");

    /// <summary>The kind of the family that builds <paramref name="config"/>.</summary>
    public static string KindOf(ModelConfig config) => FamilyOf(config).Kind;

    /// <summary>A freshly initialised network for <paramref name="config"/>.</summary>
    public static IMixtureHeadsNetwork Create(ModelConfig config) => FamilyOf(config).Create(config);

    /// <summary>A freshly initialised network of <paramref name="kind"/> for the config JSON an exported model recorded.</summary>
    /// <exception cref="InvalidDataException">The kind is unknown or the JSON is not a valid config of it.</exception>
    public static IMixtureHeadsNetwork Create(string kind, string configJson)
    {
        var config = ReadConfig(kind, configJson);
        try
        {
            return FamiliesByKind[kind].Create(config);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The saved {kind} architecture is invalid: {e.Message}", e);
        }
    }

    /// <summary>The config of <paramref name="kind"/> that <paramref name="configJson"/> (as exported models record it) describes.</summary>
    /// <exception cref="InvalidDataException">The kind is unknown or the JSON is not one of its configs.</exception>
    public static ModelConfig ReadConfig(string kind, string configJson)
    {
        if (!FamiliesByKind.TryGetValue(kind, out var family))
            throw new InvalidDataException($"Unknown model kind '{kind}' (this process knows: {string.Join(", ", FamiliesByKind.Keys.Order(StringComparer.Ordinal))}).");
        return (ModelConfig)ModelJson.Deserialize(configJson, family.ConfigType, kind);
    }

    private static ModelFamily FamilyOf(ModelConfig config) =>
        FamiliesByConfig.TryGetValue(config.GetType(), out var family)
            ? family
            : throw new ArgumentException($"No model family builds a {config.GetType().Name}; register one with ModelRegistry.RegisterFamily.", nameof(config));
}
