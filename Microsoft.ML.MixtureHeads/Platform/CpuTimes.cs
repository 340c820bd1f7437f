using System.Globalization;

namespace Microsoft.ML.MixtureHeads.Platform;

/// <summary>
/// Cumulative CPU time of the whole machine and of this process, in clock ticks, from Linux's <c>/proc/stat</c> and
/// <c>/proc/self/stat</c>. The difference of two readings says how many cores other processes kept busy in between.
/// </summary>
/// <param name="Cores">The cores <c>/proc/stat</c> counts: the host's, which may be more than a container's CPU quota.</param>
/// <param name="MachineBusy">Ticks all cores spent running processes (user, nice, system, interrupts).</param>
/// <param name="MachineTotal">Ticks all cores spent in any state, including idling, waiting for I/O and time a hypervisor took.</param>
/// <param name="Process">Ticks this process spent, user and system.</param>
internal readonly record struct CpuTimes(int Cores, long MachineBusy, long MachineTotal, long Process)
{
    /// <summary>The cores that other processes kept busy between <paramref name="earlier"/> and this reading; 0 when no time passed.</summary>
    public double OtherBusyCoresSince(CpuTimes earlier)
    {
        long total = MachineTotal - earlier.MachineTotal;
        if (total <= 0) return 0;
        long others = MachineBusy - earlier.MachineBusy - (Process - earlier.Process);
        return Math.Max(0, (double)others * Cores / total);
    }

    /// <summary>The current reading, or null where <c>/proc</c> is not there or not in the expected format (not Linux).</summary>
    public static CpuTimes? Read()
    {
        try
        {
            return File.Exists("/proc/stat") && File.Exists("/proc/self/stat")
                ? Parse(File.ReadAllLines("/proc/stat"), File.ReadAllText("/proc/self/stat"))
                : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// Parses <c>/proc/stat</c> (its first line sums all cores: "cpu user nice system idle iowait irq softirq steal ...";
    /// a "cpuN" line follows for each core) and <c>/proc/self/stat</c> (utime and stime are its 14th and 15th fields; the
    /// 2nd, the command, may hold spaces and ends at the last ')'). Null when either is not in that format.
    /// </summary>
    internal static CpuTimes? Parse(IReadOnlyList<string> machineStat, string processStat)
    {
        if (machineStat.Count == 0) return null;
        var machine = machineStat[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (machine.Length < 5 || machine[0] != "cpu") return null;
        int cores = machineStat.Count(l => l.Length > 3 && l.StartsWith("cpu", StringComparison.Ordinal) && char.IsAsciiDigit(l[3]));
        if (cores == 0) return null;
        long total = 0, notBusy = 0;
        for (int i = 1; i < Math.Min(machine.Length, 9); i++)   // guest times (9, 10) are already inside user and nice
        {
            if (!long.TryParse(machine[i], NumberStyles.None, CultureInfo.InvariantCulture, out long ticks)) return null;
            total += ticks;
            if (i is 4 or 5 or 8) notBusy += ticks;            // idle, iowait, steal (another VM, not a process here)
        }
        int commandEnd = processStat.LastIndexOf(')');
        if (commandEnd < 0) return null;
        var fields = processStat[(commandEnd + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries); // fields[0] is field 3
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out long user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out long system))
            return null;
        return new CpuTimes(cores, total - notBusy, total, user + system);
    }
}
