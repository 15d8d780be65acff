using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

public sealed class AdaptiveRolloutTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    private static List<RolloutRequest> LongTail(int n) => Enumerable.Range(0, n).Select(i => new RolloutRequest(i,
        new[] { 1, 2 + i % 5, 3 }, SamplingOptions.Greedy(i == 0 ? 60 : 4 + i % 3), GroupId: i % 2)).ToList();

    [Fact]
    public void Adaptive_LongTail_SpeculatesOnlyInTheSmallBatchTailAndStaysExact()
    {
        using var model = TestModels.Peaked(Config, seed: 81);
        using var eagle = new EagleDraftModel(Config, seed: 2);
        using var drafter = new EagleDrafter(model, eagle);
        using var ngram = new NGramDrafter();
        var adaptive = new AdaptiveSpeculation(new AdaptiveSpeculationOptions
        {
            Arms = new[] { SpeculationArm.None, SpeculationArm.Of(drafter, SpecStrategy.ChainOf(3)), SpeculationArm.Of(ngram, SpecStrategy.ChainOf(4)) },
            BatchThreshold = 2, Patience = 3, Clock = new ManualClock(),   // a clock that stands still: arms are scored by tokens per step
        });
        var requests = LongTail(12);
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        var result = new RolloutEngine(model, new RolloutEngineOptions { Adaptive = adaptive }).Generate(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
        Assert.True(result.Metrics.SpeculativeSteps > 0, "never speculated in the tail");
        // Every speculative choice was made in a bucket at or below the threshold.
        Assert.All(result.Metrics.ArmChoices.Where(kv => !kv.Key.EndsWith(":none", StringComparison.Ordinal)),
            kv => Assert.True(kv.Key.StartsWith("1:", StringComparison.Ordinal) || kv.Key.StartsWith("2-4:", StringComparison.Ordinal), kv.Key));
        Assert.Contains(result.Metrics.ArmChoices.Keys, k => k.EndsWith(":ngram/chain-d4", StringComparison.Ordinal));
        // The EAGLE drafter followed plain steps (batched ObserveStep) and speculative rounds without losing track of a row.
        Assert.Contains(result.Metrics.ArmChoices.Keys, k => k.EndsWith(":eagle/chain-d3", StringComparison.Ordinal));
        Assert.Empty(result.Metrics.DrafterFailures);
    }

    [Fact]
    public void Drafter_ThatThrows_FallsBackToPlainDecodingAndSaysSo()
    {
        using var model = TestModels.Peaked(Config, seed: 82);
        using var broken = new FuncDrafter((_, _) => throw new InvalidOperationException("drafter exploded"), "broken");
        var requests = LongTail(5);
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        var result = new RolloutEngine(model, new RolloutEngineOptions { Drafter = broken }).Generate(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
        var failure = Assert.Single(result.Metrics.DrafterFailures);
        Assert.Contains("broken.Propose", failure);
        Assert.Contains("drafter exploded", failure);
        Assert.Equal(1, broken.Rounds);                        // dropped after the first failure
    }
}
