using Microsoft.ML.MixtureHeads.Platform;
using Microsoft.ML.MixtureHeads.Training;

namespace Microsoft.ML.MixtureHeads.Tests.Training;

/// <summary>The default thread policy: libtorch gets the cores other processes leave idle, re-read every interval.</summary>
public sealed class IdleCoreThreadsTests
{
    [Theory]
    [InlineData(0.0, 2, 2, 2)]
    [InlineData(0.4, 2, 2, 2)]
    [InlineData(0.5, 2, 2, 1)]
    [InlineData(1.0, 2, 2, 1)]
    [InlineData(2.0, 2, 2, 1)]   // never below one thread
    [InlineData(3.0, 16, 8, 8)]  // never above the count it started with
    [InlineData(10.2, 16, 16, 6)]
    public void Threads_are_the_idle_cores_between_one_and_the_starting_count(double otherBusyCores, int cores, int initial, int expected) =>
        Assert.Equal(expected, IdleCoreThreads.ThreadsFor(otherBusyCores, cores, initial));

    [Fact]
    public void Threads_follow_other_processes_load_once_per_interval_and_are_restored_on_dispose()
    {
        var now = TimeSpan.Zero;
        // Each reading: 2 cores x 100 ticks more; this process used 100 of them; others the rest of the busy time.
        long total = 0, busy = 0, process = 0;
        CpuTimes? Next(double otherCores)
        {
            total += 200;
            process += 100;
            busy += 100 + (long)(otherCores * 100);
            return new CpuTimes(2, busy, total, process);
        }
        double load = 0;
        var set = new List<int>();
        var policy = new IdleCoreThreads(initial: 2, first: new CpuTimes(2, 0, 0, 0), () => Next(load), set.Add, () => now, channel: null);

        load = 1;
        now = IdleCoreThreads.Interval / 2;
        policy.Check();                        // too soon: nothing read
        Assert.Equal(2, policy.Threads);

        now = IdleCoreThreads.Interval;
        policy.Check();                        // one busy process beside us
        Assert.Equal(1, policy.Threads);

        now += IdleCoreThreads.Interval;
        policy.Check();                        // still there: no change
        load = 0;
        now += IdleCoreThreads.Interval;
        policy.Check();                        // gone
        Assert.Equal(2, policy.Threads);

        load = 1;
        now += IdleCoreThreads.Interval;
        policy.Check();
        policy.Dispose();                      // back to the count it found
        Assert.Equal([1, 2, 1, 2], set);
    }

    [Fact]
    public void Dispose_leaves_libtorch_alone_when_the_count_never_changed()
    {
        var set = new List<int>();
        var policy = new IdleCoreThreads(2, new CpuTimes(2, 0, 0, 0), () => null, set.Add, () => TimeSpan.FromHours(1), null);

        policy.Check();                        // no reading (not Linux): nothing changes
        policy.Dispose();

        Assert.Empty(set);
    }
}
