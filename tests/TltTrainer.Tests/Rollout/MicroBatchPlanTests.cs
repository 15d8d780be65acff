using TltTrainer.Rollout;

namespace TltTrainer.Tests.Rollout;

public sealed class MicroBatchPlanTests
{
    private static readonly int[] Lengths = { 20, 400, 18, 35, 22, 390, 19, 21 };

    [Fact]
    public void Plan_CoversEveryIndexOnce_LongestFirst_WithinBudget()
    {
        var plan = MicroBatchPlan.Plan(Enumerable.Range(0, Lengths.Length).ToArray(), i => Lengths[i], maxSequences: 8, maxPaddedTokens: 800);
        Assert.Equal(Enumerable.Range(0, Lengths.Length), plan.SelectMany(m => m).OrderBy(i => i));
        foreach (var micro in plan)
            Assert.True(micro.Length * micro.Max(i => Lengths[i]) <= 800, $"micro-batch [{string.Join(",", micro)}] over budget");
        Assert.Equal(new[] { 1, 5 }, plan[0]);                       // the two long ones share one micro-batch
        Assert.Equal(2, plan.Count);                                  // the six short ones fit together
    }

    [Fact]
    public void Plan_SequenceCapAndOversizedSingles()
    {
        var capped = MicroBatchPlan.Plan(Enumerable.Range(0, Lengths.Length).ToArray(), i => Lengths[i], maxSequences: 3, maxPaddedTokens: 0);
        Assert.All(capped, m => Assert.True(m.Length <= 3));
        var tight = MicroBatchPlan.Plan(new[] { 1, 5 }, i => Lengths[i], maxSequences: 8, maxPaddedTokens: 100);
        Assert.Equal(2, tight.Count);                                 // each longer than the budget: alone, not dropped
        Assert.Throws<ArgumentOutOfRangeException>(() => MicroBatchPlan.Plan(new[] { 0 }, i => 1, 0, 0));
    }
}
