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
/// padded to the group's largest load so that one <c>bmm</c> computes the whole group. An expert joins the current
/// group while its load is at least <see cref="MinimumFill"/> of the group's capacity, so padding stays under
/// 1 - MinimumFill of the computed rows however unbalanced the routing is (a balanced router gives one or two
/// groups; a collapsed one degrades towards one group per expert, never to a dense all-experts compute).
/// </remarks>
internal sealed class DispatchPlan
{
    /// <summary>Least fraction of a group's capacity an expert's load must fill to join the group.</summary>
    public const double MinimumFill = 0.75;

    /// <summary>Assignments the router made to each expert, before any capacity drop. [E]</summary>
    public required long[] RoutedCounts { get; init; }

    /// <summary>Sub-tokens whose first choice is each expert (the balance loss's f). [E]</summary>
    public required long[] FirstChoiceCounts { get; init; }

    /// <summary>Buffer row of each assignment; a dropped assignment points past <see cref="BufferRows"/>. [A]</summary>
    public required long[] SlotOfAssignment { get; init; }

    /// <summary>Assignment held by each buffer row; a padding row points past the assignments. [BufferRows]</summary>
    public required long[] AssignmentOfSlot { get; init; }

    /// <summary>Groups in buffer order.</summary>
    public required IReadOnlyList<ExpertGroup> Groups { get; init; }

    /// <summary>Rows of the expert buffer, padding included.</summary>
    public long BufferRows => AssignmentOfSlot.LongLength;

    /// <summary>Assignments beyond an expert's capacity.</summary>
    public required long Dropped { get; init; }

    /// <summary>Zero rows added so that each group is rectangular.</summary>
    public required long Padding { get; init; }

    /// <param name="expertOfAssignment">Chosen expert per assignment, choice-major (length k * S).</param>
    /// <param name="experts">E.</param>
    /// <param name="subTokens">S.</param>
    /// <param name="capacity">Most assignments an expert takes, or null for dropless.</param>
    public static DispatchPlan Create(long[] expertOfAssignment, int experts, long subTokens, long? capacity)
    {
        long assignments = expertOfAssignment.LongLength;
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

        var (groups, firstRow) = GroupExperts(kept);
        long bufferRows = groups.Sum(g => g.BufferRows);
        var slotOfAssignment = new long[assignments];
        var assignmentOfSlot = new long[bufferRows];
        Array.Fill(assignmentOfSlot, -1);
        long dropped = 0;
        for (long a = 0; a < assignments; a++)
        {
            long e = expertOfAssignment[a];
            if (queuePosition[a] < kept[e])
            {
                long slot = firstRow[e] + queuePosition[a];
                slotOfAssignment[a] = slot;
                assignmentOfSlot[slot] = a;
            }
            else slotOfAssignment[a] = bufferRows + dropped++;
        }
        long padding = 0;
        for (long slot = 0; slot < bufferRows; slot++)
            if (assignmentOfSlot[slot] < 0) assignmentOfSlot[slot] = assignments + padding++;

        return new DispatchPlan
        {
            RoutedCounts = routed, FirstChoiceCounts = firstChoice, SlotOfAssignment = slotOfAssignment,
            AssignmentOfSlot = assignmentOfSlot, Groups = groups, Dropped = dropped, Padding = padding,
        };
    }

    /// <summary>Experts with rows, heaviest first, cut into groups of similar load; returns each expert's first buffer row.</summary>
    private static (List<ExpertGroup> Groups, long[] FirstRow) GroupExperts(long[] rows)
    {
        var order = Enumerable.Range(0, rows.Length).Where(e => rows[e] > 0).OrderByDescending(e => rows[e]).ThenBy(e => e).ToArray();
        var groups = new List<ExpertGroup>();
        var firstRow = new long[rows.Length];
        long offset = 0;
        for (int start = 0; start < order.Length;)
        {
            long capacity = rows[order[start]];
            int end = start + 1;
            while (end < order.Length && rows[order[end]] >= MinimumFill * capacity) end++;
            var members = order[start..end];
            for (int i = 0; i < members.Length; i++) firstRow[members[i]] = offset + i * capacity;
            var group = new ExpertGroup(members, members.Select(e => rows[e]).ToArray(), capacity, offset);
            groups.Add(group);
            offset += group.BufferRows;
            start = end;
        }
        return (groups, firstRow);
    }
}
