using System.Reflection;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.MixtureHeads.Estimators;

/// <summary>
/// The <c>MLContext</c> settings a trainer honours: <c>GpuDeviceId</c> and <c>FallbackToCpu</c> (the device, when the
/// options leave it at "auto"), <c>TempFilePath</c> (where our temporary files go) and <c>CancelExecution()</c> (stops
/// training like the options' token). ML.NET keeps them on internal interfaces of the environment behind a catalog, so
/// they are read by reflection; a setting that cannot be read is reported to the log and left at its default.
/// </summary>
/// <param name="GpuDeviceId">The context's GPU, or null.</param>
/// <param name="FallbackToCpu">Whether to train on the CPU when that GPU is not available.</param>
/// <param name="TempFilePath">The context's folder for temporary files, or null for the system's.</param>
/// <param name="IsCancelled">True once <c>mlContext.CancelExecution()</c> was called.</param>
internal sealed record ContextSettings(int? GpuDeviceId, bool FallbackToCpu, string? TempFilePath, Func<bool> IsCancelled)
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private static readonly Type? EnvironmentSettings = typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal");

    /// <summary>The settings of <paramref name="environment"/> (an <c>MLContext</c> or the environment behind its catalogs),
    /// with cancellation read from <paramref name="host"/>, which ML.NET cancels with its environment.</summary>
    public static ContextSettings Of(IHostEnvironment environment, IHost host, IChannel channel)
    {
        T? Read<T>(string name)
        {
            var property = EnvironmentSettings?.GetProperty(name);
            if (property is not null && EnvironmentSettings!.IsInstanceOfType(environment)) return (T?)property.GetValue(environment);
            channel.Warning(MessageSensitivity.None, $"This ML.NET version does not expose MLContext.{name} to trainers; it is not honoured.");
            return default;
        }

        var cancelled = FindProperty(host.GetType(), "IsCanceled");
        if (cancelled is null) channel.Warning(MessageSensitivity.None, "This ML.NET version does not expose MLContext.CancelExecution() to trainers; use the CancellationToken option.");
        return new ContextSettings(Read<int?>("GpuDeviceId"), Read<bool>("FallbackToCpu"), Read<string>("TempFilePath"),
            cancelled is null ? () => false : () => (bool)cancelled.GetValue(host)!);
    }

    private static PropertyInfo? FindProperty(Type? type, string name)
    {
        for (; type is not null; type = type.BaseType)
            if (type.GetProperty(name, Any | BindingFlags.DeclaredOnly) is { PropertyType: var t } property && t == typeof(bool)) return property;
        return null;
    }
}
