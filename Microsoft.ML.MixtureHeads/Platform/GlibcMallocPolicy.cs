using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.MixtureHeads.Platform;

/// <summary>
/// Keeps freed tensor memory in the process for reuse rather than handing it back to the kernel at every free. glibc's
/// malloc gives each allocation over its mmap threshold a fresh mapping that it unmaps at free, and trims its heaps;
/// libtorch allocates a training step's activations anew each step, so every step faulted its pages in again. On Linux
/// with glibc this raises the mmap threshold to its 32 MiB maximum, the trim threshold to 1 GiB and the top pad to
/// 256 MiB (<c>mallopt</c>), unless the user set a malloc tunable of their own (any <c>MALLOC_*</c> variable, or
/// <c>GLIBC_TUNABLES</c>). Measured: moh_vit_mini_75 trained about 1.8x as many images per second (237 to 415-436), its
/// minor page faults fell 15x (docs/decisions.md). The cost: up to the trim threshold of freed memory stays resident between steps.
/// </summary>
internal static class GlibcMallocPolicy
{
    private const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;   // glibc's M_* parameter numbers

    /// <summary>The settings made, in order: glibc's parameter number, its name and the value.</summary>
    public static readonly (int Parameter, string Name, int Value)[] Settings =
    [
        (MmapThreshold, "M_MMAP_THRESHOLD", 32 << 20),
        (TrimThreshold, "M_TRIM_THRESHOLD", 1 << 30),
        (TopPad, "M_TOP_PAD", 256 << 20),
    ];

    /// <summary>What start-up did: set the thresholds, kept the user's tunables, or was not on glibc.</summary>
    public static string Note { get; private set; } = "not run";

#pragma warning disable CA2255 // deliberate: the earlier the thresholds are set, the fewer mappings are made and dropped
    [ModuleInitializer]
    internal static void SetDefault()
    {
        try
        {
            Note = OperatingSystem.IsLinux()
                ? Apply(Environment.GetEnvironmentVariables().Keys.Cast<string>(), static (parameter, value) => MallOpt(parameter, value) == 1)
                : "not Linux: left to the system allocator";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Note = $"not glibc: left to the system allocator ({e.Message})";
        }
    }
#pragma warning restore CA2255

    /// <summary>Makes the <see cref="Settings"/> through <paramref name="set"/> unless one of <paramref name="environmentNames"/> is a malloc tunable.</summary>
    internal static string Apply(IEnumerable<string> environmentNames, Func<int, int, bool> set)
    {
        if (environmentNames.FirstOrDefault(n => n.StartsWith("MALLOC_", StringComparison.Ordinal) || n == "GLIBC_TUNABLES") is { } chosen)
            return $"kept the user's malloc tunables ({chosen} is set)";
        var failed = Settings.Where(s => !set(s.Parameter, s.Value)).Select(s => s.Name).ToList();
        return failed.Count == 0
            ? "set " + string.Join(", ", Settings.Select(s => $"{s.Name}={s.Value}"))
            : $"mallopt refused {string.Join(", ", failed)}";
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int MallOpt(int parameter, int value);
}
