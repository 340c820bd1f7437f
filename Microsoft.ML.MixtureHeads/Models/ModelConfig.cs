namespace Microsoft.ML.MixtureHeads.Models;

/// <summary>
/// The architecture of a network: a record saved as JSON inside every exported model. <see cref="ModelRegistry"/>
/// maps each concrete config type to its model family, and names to registered configs.
/// </summary>
public abstract record ModelConfig
{
    /// <summary>Checks the whole configuration, naming the first property at fault.</summary>
    /// <exception cref="ArgumentException">A value is out of range or inconsistent.</exception>
    public abstract void Validate();
}
