using System.Runtime.InteropServices;
using Microsoft.ML.MixtureHeads.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>Start-up keeps freed memory for reuse where the user chose no malloc tunables.</summary>
public sealed class GlibcMallocPolicyTests
{
    [Fact]
    public void Without_tunables_of_the_users_own_it_sets_the_three_thresholds()
    {
        var set = new List<(int, int)>();
        string note = GlibcMallocPolicy.Apply(["PATH", "HOME", "OMP_WAIT_POLICY"], (parameter, value) => { set.Add((parameter, value)); return true; });

        Assert.Equal([(-3, 32 << 20), (-1, 1 << 30), (-2, 256 << 20)], set);
        Assert.StartsWith("set M_MMAP_THRESHOLD=33554432", note);
    }

    [Theory]
    [InlineData("MALLOC_ARENA_MAX")]
    [InlineData("MALLOC_TRIM_THRESHOLD_")]
    [InlineData("GLIBC_TUNABLES")]
    public void A_malloc_tunable_of_the_users_own_is_kept(string name)
    {
        bool called = false;
        string note = GlibcMallocPolicy.Apply(["PATH", name], (_, _) => called = true);

        Assert.False(called);
        Assert.Contains(name, note);
    }

    [Fact]
    public void A_refused_setting_is_named()
    {
        string note = GlibcMallocPolicy.Apply([], (parameter, _) => parameter != -2);
        Assert.Equal("mallopt refused M_TOP_PAD", note);
    }

    [Fact]
    public void In_this_process_a_freed_block_is_reused_without_faulting_its_pages_in_again()
    {
        if (!OperatingSystem.IsLinux() || !GlibcMallocPolicy.Note.StartsWith("set ", StringComparison.Ordinal))
            return;   // another allocator, or the tunables of whoever runs the tests: nothing of ours to check
        const int bytes = 8 << 20, rounds = 20;   // over glibc's default mmap threshold (128 KiB, dynamic up to 32 MiB)
        long before = ThreadMinorFaults();
        for (int round = 0; round < rounds; round++) Touch(bytes);
        long faults = ThreadMinorFaults() - before;

        // Unmapped at every free, each round faults all of its 2,048 pages in again (40,960 faults); reused, only the first.
        Assert.True(faults < 4 * bytes / Environment.SystemPageSize, $"{faults} minor page faults for {rounds} rounds of {bytes} bytes");
    }

    private static void Touch(int bytes)
    {
        nint block = Marshal.AllocHGlobal(bytes);   // malloc on Linux
        try
        {
            for (int i = 0; i < bytes; i += Environment.SystemPageSize) Marshal.WriteByte(block, i, 1);
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }

    /// <summary>Minor page faults of the calling thread (field 10 of /proc/thread-self/stat).</summary>
    private static long ThreadMinorFaults()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');   // from field 3 (state) on
        return long.Parse(fields[10 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
