namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// A model family, as timm's model files: the kind recorded in exported models, the config record that describes a
/// member, how to build a network from one, and the family's named configs. <see cref="ModelRegistry"/> finds every
/// family of this library by itself; a user's own family is registered with <see cref="ModelRegistry.RegisterFamily"/>.
/// </summary>
public abstract class ModelFamily
{
    /// <summary>The kind recorded in exported models, e.g. "vision_transformer".</summary>
    public abstract string Kind { get; }

    /// <summary>The concrete config record type of the family's networks.</summary>
    public abstract Type ConfigType { get; }

    /// <summary>A freshly initialised network for <paramref name="config"/> (of <see cref="ConfigType"/>).</summary>
    public abstract IMixtureHeadsNetwork Create(ModelConfig config);

    /// <summary>The family's registered names and their configs.</summary>
    public virtual IEnumerable<KeyValuePair<string, ModelConfig>> NamedConfigs => [];
}

/// <summary>A <see cref="ModelFamily"/> whose networks are described by <typeparamref name="TConfig"/>.</summary>
public abstract class ModelFamily<TConfig> : ModelFamily where TConfig : ModelConfig
{
    /// <inheritdoc />
    public sealed override Type ConfigType => typeof(TConfig);

    /// <inheritdoc />
    public sealed override IMixtureHeadsNetwork Create(ModelConfig config) => config is TConfig typed
        ? Create(typed)
        : throw new ArgumentException($"The {Kind} family builds from a {typeof(TConfig).Name}, not a {config?.GetType().Name ?? "null"}.", nameof(config));

    /// <summary>A freshly initialised network for <paramref name="config"/>.</summary>
    protected abstract IMixtureHeadsNetwork Create(TConfig config);
}
