using TltTrainer.Speculative;

namespace TltTrainer.Tests.Speculative;

public sealed class StrategyBanditTests
{
    [Fact]
    public void Choose_SyntheticRewardTable_ConvergesToBestArm()
    {
        var table = new Dictionary<string, double> { ["none"] = 100, ["chain-d4"] = 180, ["tree-d6"] = 240, ["ngram"] = 150 };
        var bandit = new StrategyBandit<string>(table.Keys.ToList(), epsilon: 0.1, window: 50, seed: 1);
        var noise = new Random(2);
        var early = new List<string>();
        for (int i = 0; i < 2000; i++)
        {
            var arm = bandit.Choose();
            if (i < 4) early.Add(arm);
            bandit.Record(arm, table[arm] * (0.8 + 0.4 * noise.NextDouble()));
        }
        Assert.Equal(table.Keys.ToList(), early);                           // untried arms first, in order
        Assert.Equal("tree-d6", bandit.Best());
        Assert.True(bandit.Choices["tree-d6"] > 0.85 * 2000, $"best arm chosen {bandit.Choices["tree-d6"]} times");
    }

    [Fact]
    public void Choose_SpeculationMadeSlow_PicksNoSpeculation()
    {
        var bandit = new StrategyBandit<string>(new[] { "chain-d4", "tree-d6", "none" }, epsilon: 0.1, window: 30, seed: 3);
        for (int i = 0; i < 500; i++)
        {
            var arm = bandit.Choose();
            bandit.Record(arm, arm == "none" ? 100 : 40);                     // speculation artificially slow
        }
        Assert.Equal("none", bandit.Best());
        Assert.True(bandit.Choices["none"] > 400);
    }

    [Fact]
    public void Median_OutlierRounds_DoNotFlipTheChoice()
    {
        var bandit = new StrategyBandit<int>(new[] { 0, 1 }, epsilon: 0, window: 9);
        foreach (var r in new[] { 10.0, 10, 10, 10, 1000, 10, 10, 10, 10 }) bandit.Record(0, r);
        foreach (var r in new[] { 20.0, 20, 20, 20, 20, 20, 20, 20, 20 }) bandit.Record(1, r);
        Assert.Equal(1, bandit.Best());
    }

    [Theory]
    [InlineData(1, "plain")]     // judged on its first, unlucky measurement, the faster arm is never chosen again (ε = 0)
    [InlineData(3, "chain")]     // three measurements: its median shows it is the faster one
    public void Choose_WarmUp_JudgesAnArmOnSeveralMeasurements_NotItsFirst(int warmUp, string expected)
    {
        var bandit = new StrategyBandit<string>(new[] { "plain", "chain" }, epsilon: 0, window: 50, warmUp: warmUp);
        var chainRewards = new Queue<double>(new[] { 1.0, 9, 9, 9, 9, 9 });   // a round that accepted nothing, then good ones
        string last = "";
        for (int step = 0; step < 20; step++)
        {
            last = bandit.Choose();
            bandit.Record(last, last == "plain" ? 5.0 : chainRewards.TryDequeue(out var r) ? r : 9.0);
        }
        Assert.Equal(expected, last);
        Assert.Equal(expected, bandit.Best());
        Assert.True(bandit.Measurements("chain") >= warmUp);
    }

    [Fact]
    public void Choose_ArmFarBehindTheBest_IsExploredRarely_ButStillMeasured()
    {
        // "hopeless" pays 20% of the best (EAGLE on a target as shallow as its drafter); "close" pays 80%.
        var table = new Dictionary<string, double> { ["none"] = 100, ["close"] = 80, ["hopeless"] = 20 };
        var bandit = new StrategyBandit<string>(table.Keys.ToList(), epsilon: 0.1, window: 50, seed: 4);
        const int Draws = 20_000;
        for (int i = 0; i < Draws; i++)
        {
            var arm = bandit.Choose();
            bandit.Record(arm, table[arm]);
        }
        // Uniform ε-exploration (ε decaying as the bandit's EpsilonNow) would pick each arm a third of the exploring draws;
        // far behind keeps a tenth of that.
        double uniform = Enumerable.Range(0, Draws).Sum(n => Math.Max(0.01, 0.1 * StrategyBandit<string>.DecaySteps / (StrategyBandit<string>.DecaySteps + n))) / 3;
        Assert.InRange(bandit.Choices["close"], 0.8 * uniform, 1.2 * uniform);
        Assert.InRange(bandit.Choices["hopeless"], 0.05 * uniform, 0.2 * uniform);
    }
}
