using Microsoft.ML.MixtureHeads.Layers;

namespace Microsoft.ML.MixtureHeads.Tests.Layers;

/// <summary>The host-side dispatch bookkeeping on hand-worked routings.</summary>
public sealed class DispatchPlanTests
{
    [Fact]
    public void Capacity_fills_all_first_choices_before_second_choices()
    {
        // S = 4 sub-tokens, k = 2, E = 2, capacity 3. First choices [0, 0, 1, 0], second choices [1, 1, 0, 0].
        // Expert 0 queue (official order): first choices of tokens 0, 1, 3, then second choices of tokens 2, 3 -> the
        // last two overflow. Expert 1: first choice of token 2, second choices of tokens 0, 1 -> all kept.
        long[] choiceMajor = [0, 0, 1, 0, 1, 1, 0, 0];
        var plan = DispatchPlan.Create(choiceMajor, experts: 2, subTokens: 4, choices: 2, capacity: 3, macsPerRow: 1);

        Assert.Equal([5L, 3L], plan.RoutedCounts);
        Assert.Equal([3L, 1L], plan.FirstChoiceCounts);
        Assert.Equal(2, plan.Dropped);
        Assert.Equal(plan.BufferRows, plan.SlotOfAssignment[6]);   // choice 2 of token 2
        Assert.Equal(plan.BufferRows, plan.SlotOfAssignment[7]);   // choice 2 of token 3
        for (long a = 0; a < 6; a++)
        {
            long slot = plan.SlotOfAssignment[a];
            Assert.True(slot < plan.BufferRows);
            Assert.Equal(a, plan.AssignmentOfSlot[slot]);
            Assert.Equal(a % 4, plan.SubTokenOfSlot[slot]);
        }
        Assert.Equal(6, plan.Groups.Sum(g => g.Rows.Sum()));
    }

    [Fact]
    public void Dropless_keeps_every_assignment_and_each_expert_rows_contiguous()
    {
        long[] choiceMajor = [2, 0, 2, 1, 2, 0, 1, 1, 0, 2];   // S = 5, k = 2
        var plan = DispatchPlan.Create(choiceMajor, experts: 3, subTokens: 5, choices: 2, capacity: null, macsPerRow: 1000);
        Assert.Equal(0, plan.Dropped);
        Assert.Equal([3L, 3L, 4L], plan.RoutedCounts);
        foreach (var group in plan.Groups)
            for (int i = 0; i < group.Experts.Length; i++)
                for (long r = 0; r < group.Rows[i]; r++)
                {
                    long slot = group.Offset + i * group.Capacity + r;
                    Assert.Equal(group.Experts[i], choiceMajor[plan.AssignmentOfSlot[slot]]);
                }
        long padding = plan.BufferRows - choiceMajor.Length;
        Assert.Equal(padding, plan.PaddingSlots.Length);
    }

    [Fact]
    public void Grouping_separates_experts_whose_loads_differ_more_than_a_group_costs()
    {
        // Loads 100, 100, 100, 1. Overhead 10 rows per group: {100, 100, 100} + {1} costs 300 + 1 + 20 = 321 rows,
        // one padded group 4 x 100 + 10 = 410. With an overhead of 1000 rows one group is cheaper.
        long[] assignments = [.. Enumerable.Repeat(0L, 100), .. Enumerable.Repeat(1L, 100), .. Enumerable.Repeat(2L, 100), 3];
        var cheapGroups = DispatchPlan.Create(assignments, 4, assignments.Length, 1, null, macsPerRow: (long)(DispatchPlan.GroupOverheadMacs / 10));
        Assert.Equal([[0, 1, 2], [3]], cheapGroups.Groups.Select(g => g.Experts).ToArray());
        Assert.Equal(301, cheapGroups.BufferRows);

        var costlyGroups = DispatchPlan.Create(assignments, 4, assignments.Length, 1, null, macsPerRow: (long)(DispatchPlan.GroupOverheadMacs / 1000));
        Assert.Single(costlyGroups.Groups);
        Assert.Equal(400, costlyGroups.BufferRows);
        Assert.Equal(99, costlyGroups.PaddingSlots.Length);
    }
}
