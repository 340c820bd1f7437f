using Microsoft.ML.MixtureHeads.Platform;

namespace Microsoft.ML.MixtureHeads.Tests.Platform;

/// <summary>Reading the machine's and this process's CPU time from /proc, and the busy cores of other processes.</summary>
public sealed class CpuTimesTests
{
    private const string ProcessStat = "4242 (dotnet (x) y) R 1 4242 4242 0 -1 4194304 101 0 0 0 250 50 0 0 20 0 3 0 2184333 3133440 387";

    [Fact]
    public void Parse_sums_busy_states_skips_idle_iowait_steal_and_guest_times_and_counts_the_cores()
    {
        string[] machine = ["cpu  1000 10 200 5000 40 3 7 100 999 999", "cpu0 500 5 100 2500 20 1 3 50 0 0", "cpu1 500 5 100 2500 20 2 4 50 0 0", "intr 12345 0", "ctxt 999"];

        var times = CpuTimes.Parse(machine, ProcessStat);

        Assert.Equal(new CpuTimes(Cores: 2, MachineBusy: 1000 + 10 + 200 + 3 + 7, MachineTotal: 1000 + 10 + 200 + 5000 + 40 + 3 + 7 + 100, Process: 250 + 50), times);
    }

    [Theory]
    [InlineData("cpu0 1 2 3 4 5 6 7 8", ProcessStat)]      // one core's line, not the machine's
    [InlineData("intr 1 2 3 4 5", ProcessStat)]
    [InlineData("cpu 1 2 x 4 5 6 7 8", ProcessStat)]
    [InlineData("cpu 1 2 3 4 5 6 7 8", "4242 dotnet R 1 2")]   // no command in parentheses
    [InlineData("cpu 1 2 3 4 5 6 7 8", "4242 (dotnet) R 1 2 3")] // too few fields
    public void Parse_returns_null_for_lines_not_in_the_expected_format(string machineLine, string processStat) =>
        Assert.Null(CpuTimes.Parse([machineLine, "cpu0 1 2 3 4 5 6 7 8"], processStat));

    [Fact]
    public void Parse_returns_null_without_per_core_lines() =>
        Assert.Null(CpuTimes.Parse(["cpu 1 2 3 4 5 6 7 8", "intr 1 2"], ProcessStat));

    [Fact]
    public void Other_busy_cores_are_the_machine_busy_time_less_this_process_as_a_share_of_the_cores()
    {
        var earlier = new CpuTimes(Cores: 2, MachineBusy: 1000, MachineTotal: 4000, Process: 300);
        // 200 ticks passed on each of 2 cores: 300 busy, 120 of them ours.
        var later = new CpuTimes(Cores: 2, MachineBusy: 1300, MachineTotal: 4400, Process: 420);

        Assert.Equal(0.9, later.OtherBusyCoresSince(earlier), 6);
        Assert.Equal(0, earlier.OtherBusyCoresSince(earlier));
        Assert.Equal(0, new CpuTimes(2, 1100, 4400, 500).OtherBusyCoresSince(earlier)); // ours counted late: not negative
    }

    [Fact]
    public void This_process_burning_cpu_shows_as_its_own_time_not_as_other_processes()
    {
        if (!OperatingSystem.IsLinux()) return; // /proc is Linux's; elsewhere Read gives null and threads stay fixed
        var before = CpuTimes.Read()!.Value;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double sink = 0;
        while (clock.ElapsedMilliseconds < 300) sink += Math.Sqrt(clock.ElapsedTicks);
        var after = CpuTimes.Read()!.Value;

        Assert.True(sink > 0);
        Assert.True(after.Process - before.Process >= 15, $"this process spent {after.Process - before.Process} ticks in 300 ms of busy work");
        Assert.True(after.MachineBusy - before.MachineBusy >= after.Process - before.Process - 2, "the machine's busy time holds ours");
        Assert.InRange(after.Cores, 1, 100_000);
        Assert.InRange(after.OtherBusyCoresSince(before), 0, after.Cores);
    }
}
