namespace Microsoft.ML.MixtureHeads.Platform;

/// <summary>
/// Whether this CPU multiplies bf16 matrices natively: x86 with AVX512-BF16 or AMX-BF16, which libtorch's oneDNN
/// kernels use (measured on Zen 4: bf16 <c>mm</c> 2.8-2.9x the fp32 GFLOP/s). Without them bf16 is emulated and slower
/// than fp32. Read from the CPU flags the kernel reports, so it costs no timing and cannot be fooled by a busy machine.
/// </summary>
internal static class BFloat16Support
{
    private static readonly Lazy<bool> Cpu = new(() => FlagsSayFast(ReadCpuFlags()));

    /// <summary>Whether bf16 matrix products run natively (and so faster than fp32) on this machine's CPU.</summary>
    public static bool FastOnCpu => Cpu.Value;

    /// <summary>Whether <paramref name="cpuFlags"/> (the <c>flags</c> line of /proc/cpuinfo) names a native bf16 dot product.</summary>
    internal static bool FlagsSayFast(string? cpuFlags) =>
        cpuFlags is not null && cpuFlags.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(f => f is "avx512_bf16" or "amx_bf16");

    /// <summary>The first <c>flags</c> line of /proc/cpuinfo, or null off Linux or where it cannot be read.</summary>
    private static string? ReadCpuFlags()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) is { } line
                ? line[(line.IndexOf(':') + 1)..]
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
