using TltTrainer.Rollout;

namespace TltTrainer.Tests.Rollout;

public sealed class MicroBatchPlanTests
{
    private static readonly int[] Lengths = { 20, 400, 18, 35, 22, 390, 19, 21 };

    private static long Cost(IReadOnlyList<int[]> plan, Func<int, int> lengthOf, int overhead) =>
        plan.Sum(m => (long)m.Length * m.Max(lengthOf) + overhead);

    [Fact]
    public void Plan_CoversEveryIndexOnce_LongestFirst_WithinBudget()
    {
        var plan = MicroBatchPlan.Plan(Enumerable.Range(0, Lengths.Length).ToArray(), i => Lengths[i], maxSequences: 8, maxPaddedTokens: 800);
        Assert.Equal(Enumerable.Range(0, Lengths.Length), plan.SelectMany(m => m).OrderBy(i => i));
        foreach (var micro in plan)
            Assert.True(micro.Length * micro.Max(i => Lengths[i]) <= 800, $"micro-batch [{string.Join(",", micro)}] over budget");
        Assert.Equal(new[] { 1, 5 }, plan[0]);                       // the two long ones share one micro-batch
        for (int m = 1; m < plan.Count; m++) Assert.True(plan[m].Max(i => Lengths[i]) <= plan[m - 1].Min(i => Lengths[i]));   // longest first
    }

    [Fact]
    public void Plan_LongTail_PadsNothingWhereTheGreedyCutPaddedHalf()
    {
        // Four 420-token sequences among sixty 60-token ones, cap 32, budget 8192 (the RL update's defaults).
        var lengths = Enumerable.Repeat(60, 60).Concat(Enumerable.Repeat(420, 4)).ToArray();
        var plan = MicroBatchPlan.Plan(Enumerable.Range(0, lengths.Length).ToArray(), i => lengths[i], 32, 8192, overheadTokens: 64);
        long padded = plan.Sum(m => (long)m.Length * m.Max(i => lengths[i]));
        Assert.Equal(lengths.Sum(), padded);
        Assert.Equal(3, plan.Count);                                 // [4 × 420], [32 × 60], [28 × 60]
    }

    [Fact]
    public void Plan_IsOptimal_AgainstEveryPartition()
    {
        // Minimal padded tokens + overhead per micro-batch, compared with an exhaustive search over all set partitions.
        var random = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            int n = random.Next(1, 8);
            var lengths = Enumerable.Range(0, n).Select(_ => random.Next(1, 6) * random.Next(1, 40)).ToArray();
            int cap = random.Next(1, n + 2), overhead = random.Next(0, 3) * 25;
            int budget = random.Next(3) == 0 ? 0 : random.Next(1, 4) * lengths.Max();
            var plan = MicroBatchPlan.Plan(Enumerable.Range(0, n).ToArray(), i => lengths[i], cap, budget, overhead);
            Assert.Equal(Enumerable.Range(0, n), plan.SelectMany(m => m).OrderBy(i => i));
            bool Feasible(IReadOnlyList<int> group) => group.Count <= cap && (group.Count == 1 || budget == 0 || group.Count * group.Max(i => lengths[i]) <= budget);
            Assert.All(plan, m => Assert.True(Feasible(m)));
            long best = long.MaxValue;
            foreach (var partition in Partitions(Enumerable.Range(0, n).ToList()))
                if (partition.All(Feasible)) best = Math.Min(best, partition.Sum(g => (long)g.Count * g.Max(i => lengths[i]) + overhead));
            Assert.True(best == Cost(plan, i => lengths[i], overhead), $"trial {trial}: plan costs {Cost(plan, i => lengths[i], overhead)}, optimum {best}");
        }
    }

    private static IEnumerable<List<List<int>>> Partitions(List<int> items)
    {
        if (items.Count == 0) { yield return new List<List<int>>(); yield break; }
        foreach (var rest in Partitions(items.Skip(1).ToList()))
        {
            for (int g = 0; g < rest.Count; g++)
                yield return rest.Select((group, k) => k == g ? group.Prepend(items[0]).ToList() : group).ToList();
            yield return rest.Prepend(new List<int> { items[0] }).ToList();
        }
    }

    [Fact]
    public void Plan_SequenceCapAndOversizedSingles()
    {
        var capped = MicroBatchPlan.Plan(Enumerable.Range(0, Lengths.Length).ToArray(), i => Lengths[i], maxSequences: 3, maxPaddedTokens: 0);
        Assert.All(capped, m => Assert.True(m.Length <= 3));
        var tight = MicroBatchPlan.Plan(new[] { 1, 5 }, i => Lengths[i], maxSequences: 8, maxPaddedTokens: 100);
        Assert.Equal(2, tight.Count);                                 // each longer than the budget: alone, not dropped
        Assert.Throws<ArgumentOutOfRangeException>(() => MicroBatchPlan.Plan(new[] { 0 }, i => 1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MicroBatchPlan.Plan(new[] { 0 }, i => 1, 1, 0, overheadTokens: -1));
    }
}
