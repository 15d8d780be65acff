using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

public sealed class AdaptiveSpeculationTests
{
    [Fact]
    public void Bandit_ScoresArmsInSteadyState_SoASwitchingCostDoesNotHideTheFasterArm()
    {
        // The drafter arm delivers 10 tokens/s per sequence once running but only 1 on the step after a
        // switch (its catch-up); plain decoding delivers 5. Scoring every step, ε-exploration (one step at a
        // time) would only ever see the 1s and keep plain; steady-state scoring finds the drafter arm.
        using var drafter = new FuncDrafter((_, _) => DraftTree.Empty);
        var fast = SpeculationArm.Of(drafter, SpecStrategy.ChainOf(4));
        var policy = new AdaptiveSpeculation(new AdaptiveSpeculationOptions
        {
            Arms = new[] { SpeculationArm.None, fast }, BatchThreshold = 8, Patience = 0, Epsilon = 0.1, Window = 50, Seed = 2,
        });
        SpeculationArm? previous = null;
        var chosen = new List<SpeculationArm>();
        for (int step = 0; step < 400; step++)
        {
            var (arm, fromBandit) = policy.Choose(runningBatch: 3);
            Assert.True(fromBandit);
            double reward = arm.Drafter is null ? 5 : arm.Equals(previous) ? 10 : 1;
            policy.Record(3, arm, reward);
            chosen.Add(arm);
            previous = arm;
        }
        int fastSteps = chosen.Skip(100).Count(a => a.Equals(fast));
        Assert.True(fastSteps > 250, $"the faster arm ran {fastSteps} of the last 300 steps");
        // Every switch keeps the new arm for a second step (the one that is scored).
        for (int i = 1; i + 1 < chosen.Count; i++)
            if (!chosen[i].Equals(chosen[i - 1])) Assert.Equal(chosen[i], chosen[i + 1]);
    }
}
