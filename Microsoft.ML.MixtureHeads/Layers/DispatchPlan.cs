using System.Runtime.CompilerServices;

namespace Microsoft.ML.MixtureHeads.Layers;

/// <summary>Experts whose rows one batched matmul computes: each padded to <see cref="Capacity"/> rows.</summary>
/// <param name="Experts">Expert indices, in buffer order.</param>
/// <param name="Rows">Rows (routed assignments) each expert really holds; the rest of its capacity is zero padding.</param>
/// <param name="Capacity">Rows per expert in this group: the largest of <paramref name="Rows"/>.</param>
/// <param name="Offset">First buffer row of the group.</param>
internal sealed record ExpertGroup(int[] Experts, long[] Rows, long Capacity, long Offset)
{
    /// <summary>Buffer rows the group spans, padding included.</summary>
    public long BufferRows => Experts.Length * Capacity;
}

/// <summary>
/// Where every (sub-token, choice) assignment goes: the host-side bookkeeping of grouped dispatch, built from the
/// router's choices in O(assignments). Assignments are numbered choice-major, a = j * S + s (choice j of sub-token s),
/// which is also the official slot priority: all first choices in token order, then all second choices, ...
/// </summary>
/// <remarks>
/// Experts are laid out in one row buffer, each expert's rows contiguous, and experts of similar load share a group
/// padded to the group's largest load, so that one <c>bmm</c> computes the whole group. Grouping trades padding
/// against per-group overhead (~100 us of op and autograd-node overhead on CPU, the time of about
/// <see cref="GroupOverheadMacs"/> expert multiply-accumulates): over the experts sorted by load, a dynamic program
/// picks the contiguous cut minimising padded rows plus overhead (O(E^2)). A balanced router gives one or two
/// groups; a collapsed one gets its heavy experts in groups of their own and never a dense all-experts compute.
/// </remarks>
internal sealed class DispatchPlan
{
    /// <summary>Overhead of one more group, in forward multiply-accumulates of expert compute (measured: ~100 us per
    /// group; one core runs ~13 G expert forward MACs per second of forward + backward time).</summary>
    public const double GroupOverheadMacs = 1.3e6;

    /// <summary>Assignments the router made to each expert, before any capacity drop. [E]</summary>
    public required long[] RoutedCounts { get; init; }

    /// <summary>Sub-tokens whose first choice is each expert (the balance loss's f). [E]</summary>
    public required long[] FirstChoiceCounts { get; init; }

    /// <summary>Buffer row of each assignment; a dropped assignment points at row <see cref="BufferRows"/>
    /// (one past the buffer, where the gathers append a zero row). [A]</summary>
    public required long[] SlotOfAssignment { get; init; }

    /// <summary>Assignment held by each buffer row; 0 for a padding row. [BufferRows]</summary>
    public required long[] AssignmentOfSlot { get; init; }

    /// <summary>Sub-token held by each buffer row; 0 for a padding row. [BufferRows]</summary>
    public required long[] SubTokenOfSlot { get; init; }

    /// <summary>The padding rows of the buffer (their inputs and gradients are zeroed).</summary>
    public required long[] PaddingSlots { get; init; }

    /// <summary>Groups in buffer order.</summary>
    public required IReadOnlyList<ExpertGroup> Groups { get; init; }

    /// <summary>k, the choices per sub-token.</summary>
    public required long Choices { get; init; }

    /// <summary>S, the sub-tokens routed.</summary>
    public required long SubTokens { get; init; }

    /// <summary>Rows of the expert buffer, padding included.</summary>
    public long BufferRows => AssignmentOfSlot.LongLength;

    /// <summary>Assignments beyond an expert's capacity.</summary>
    public required long Dropped { get; init; }

    /// <param name="expertOfAssignment">Chosen expert per assignment, choice-major (length k * S).</param>
    /// <param name="experts">E.</param>
    /// <param name="subTokens">S.</param>
    /// <param name="choices">k.</param>
    /// <param name="capacity">Most assignments an expert takes, or null for dropless.</param>
    /// <param name="macsPerRow">Forward multiply-accumulates of one expert on one row (3 x dim x hidden for SwiGLU).</param>
    // Runs once per forward: optimised at once rather than after 30 calls of tier-0 code (measured ~2.5 ms a step
    // slower at 1024 tokens while tiered compilation catches up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static DispatchPlan Create(long[] expertOfAssignment, int experts, long subTokens, long choices, long? capacity, long macsPerRow)
    {
        long assignments = expertOfAssignment.LongLength;
        if (assignments != subTokens * choices)
            throw new ArgumentException($"Expected {subTokens} x {choices} assignments, got {assignments}.", nameof(expertOfAssignment));
        var routed = new long[experts];
        var firstChoice = new long[experts];
        var queuePosition = new long[assignments];
        for (long a = 0; a < assignments; a++)
        {
            long e = expertOfAssignment[a];
            queuePosition[a] = routed[e]++;
            if (a < subTokens) firstChoice[e]++;
        }
        var kept = routed.Select(count => capacity is { } c ? Math.Min(count, c) : count).ToArray();

        var (groups, firstRow) = GroupExperts(kept, GroupOverheadMacs / Math.Max(1, macsPerRow));
        long bufferRows = groups.Sum(g => g.BufferRows);
        var slotOfAssignment = new long[assignments];
        var assignmentOfSlot = new long[bufferRows];
        var filled = new bool[bufferRows];
        long dropped = 0;
        for (long a = 0; a < assignments; a++)
        {
            long e = expertOfAssignment[a];
            if (queuePosition[a] < kept[e])
            {
                long slot = firstRow[e] + queuePosition[a];
                slotOfAssignment[a] = slot;
                assignmentOfSlot[slot] = a;
                filled[slot] = true;
            }
            else
            {
                slotOfAssignment[a] = bufferRows;
                dropped++;
            }
        }
        var paddingSlots = Enumerable.Range(0, checked((int)bufferRows)).Where(slot => !filled[slot]).Select(slot => (long)slot).ToArray();
        return new DispatchPlan
        {
            RoutedCounts = routed, FirstChoiceCounts = firstChoice, SlotOfAssignment = slotOfAssignment,
            AssignmentOfSlot = assignmentOfSlot, SubTokenOfSlot = assignmentOfSlot.Select(a => a % subTokens).ToArray(),
            PaddingSlots = paddingSlots, Groups = groups, Choices = choices, SubTokens = subTokens,
            Dropped = dropped,
        };
    }

    /// <summary>
    /// Experts with rows, heaviest first, cut into the groups that minimise padded rows + <paramref name="overheadRows"/>
    /// per group; returns the groups and each expert's first buffer row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (List<ExpertGroup> Groups, long[] FirstRow) GroupExperts(long[] rows, double overheadRows)
    {
        var order = Enumerable.Range(0, rows.Length).Where(e => rows[e] > 0).OrderByDescending(e => rows[e]).ThenBy(e => e).ToArray();
        int m = order.Length;
        // cost[j]: least cost of the first j experts; cut[j]: where the last group of that best solution starts.
        var cost = new double[m + 1];
        var cut = new int[m + 1];
        for (int end = 1; end <= m; end++)
        {
            cost[end] = double.PositiveInfinity;
            for (int start = 0; start < end; start++)
            {
                double candidate = cost[start] + overheadRows + (double)(end - start) * rows[order[start]];
                if (candidate < cost[end]) (cost[end], cut[end]) = (candidate, start);
            }
        }
        var bounds = new List<(int Start, int End)>();
        for (int end = m; end > 0; end = cut[end]) bounds.Add((cut[end], end));
        bounds.Reverse();

        var groups = new List<ExpertGroup>();
        var firstRow = new long[rows.Length];
        long offset = 0;
        foreach (var (start, end) in bounds)
        {
            var members = order[start..end];
            long capacity = rows[members[0]];
            for (int i = 0; i < members.Length; i++) firstRow[members[i]] = offset + i * capacity;
            var group = new ExpertGroup(members, members.Select(e => rows[e]).ToArray(), capacity, offset);
            groups.Add(group);
            offset += group.BufferRows;
        }
        return (groups, firstRow);
    }
}
