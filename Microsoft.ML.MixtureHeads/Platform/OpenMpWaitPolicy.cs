using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.MixtureHeads.Platform;

/// <summary>
/// Makes libtorch's OpenMP threads sleep rather than spin while they wait: on Linux, sets OMP_WAIT_POLICY=PASSIVE for
/// the GNU OpenMP runtime (libgomp) that libtorch 2.10 ships, unless the user chose a policy (OMP_WAIT_POLICY or
/// GOMP_SPINCOUNT). libgomp's default spins at every barrier, so on a machine where another process also wants the
/// CPU its threads burn the time slices the descheduled worker needs; the contention suite measured moh_vit_tiny_75
/// training 6x faster with passive waiting on a busy 2-core machine (docs/decisions.md).
/// </summary>
/// <remarks>libgomp reads the variable once, when libtorch loads. This runs when this assembly loads, which in an app
/// that calls our API before any TorchSharp API of its own is before libtorch; <see cref="Note"/> says what happened.</remarks>
internal static class OpenMpWaitPolicy
{
    /// <summary>The value set when the user set none.</summary>
    public const string Default = "PASSIVE";

    /// <summary>What start-up did: set the default, kept the user's choice, or found libgomp already loaded.</summary>
    public static string Note { get; private set; } = "not run";

#pragma warning disable CA2255 // deliberate: libgomp reads its environment once, when TorchSharp loads libtorch
    [ModuleInitializer]
    internal static void SetDefault()
    {
        try
        {
            Note = OperatingSystem.IsLinux()
                ? Apply(Environment.GetEnvironmentVariable, LibGompLoaded, static (name, value) => SetEnv(name, value, overwrite: 0) == 0)
                : "not Linux: left to the OpenMP runtime";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or UnauthorizedAccessException)
        {
            Note = $"could not set OMP_WAIT_POLICY: {e.Message}";
        }
    }
#pragma warning restore CA2255

    /// <summary>Sets the default through <paramref name="set"/> unless the user chose a policy or libgomp already read its environment.</summary>
    internal static string Apply(Func<string, string?> get, Func<bool> libGompLoaded, Func<string, string, bool> set)
    {
        if (get("OMP_WAIT_POLICY") is { } policy) return $"kept the user's OMP_WAIT_POLICY={policy}";
        if (get("GOMP_SPINCOUNT") is { } spin) return $"kept the user's GOMP_SPINCOUNT={spin}";
        if (libGompLoaded()) return "libgomp was already loaded: set OMP_WAIT_POLICY=PASSIVE before starting the process to wait passively";
        return set("OMP_WAIT_POLICY", Default) ? $"set OMP_WAIT_POLICY={Default}" : "setenv failed: OpenMP keeps its default";
    }

    /// <summary>Whether a libgomp is mapped into this process already (it read its environment when it loaded).</summary>
    private static bool LibGompLoaded() =>
        File.Exists("/proc/self/maps") && File.ReadLines("/proc/self/maps").Any(l => l.Contains("/libgomp", StringComparison.Ordinal));

    [DllImport("libc.so.6", EntryPoint = "setenv")]
    private static extern int SetEnv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
