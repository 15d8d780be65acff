using TltTrainer.Rl;

namespace TltTrainer.Tests.Rl;

/// <summary>Advantages, policy losses, aggregation and KL against hand-computed values.</summary>
public sealed class RlMathTests
{
    private static readonly long[] OneGroup = { 7, 7, 7, 7 };

    [Fact]
    public void Grpo_ZScoreWithPopulationStd()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var a = new GrpoAdvantage(Epsilon: 0).Compute(new[] { 1.0, 0, 0, 1 }, OneGroup);
        Assert.Equal(new[] { 1.0, -1, -1, 1 }, a);
        var b = new GrpoAdvantage(Epsilon: 0).Compute(new[] { 3.0, 1, 2 }, new long[] { 1, 1, 1 });
        double std = Math.Sqrt(2.0 / 3);                                   // population std of {3, 1, 2}
        Assert.Equal(new[] { 1 / std, -1 / std, 0 }, b.Select(x => Math.Round(x, 12)).ToArray().Select((x, i) => x).ToArray(), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void DrGrpo_MeanCentredOnly() => Assert.Equal(new[] { 0.5, -0.5, -0.5, 0.5 }, new DrGrpoAdvantage().Compute(new[] { 1.0, 0, 0, 1 }, OneGroup));

    [Fact]
    public void Rloo_LeaveOneOutBaseline() =>
        Assert.Equal(new[] { 2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3 }, new RlooAdvantage().Compute(new[] { 1.0, 0, 0, 1 }, OneGroup), new ToleranceComparer(1e-12));

    [Fact]
    public void Advantages_SingletonGroupsAndSeparateGroups()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var a = new DrGrpoAdvantage().Compute(new[] { 5.0, 1, 3, 9 }, new long[] { 1, 2, 2, 3 });
        Assert.Equal(new[] { 0.0, -1, 1, 0 }, a);
    }

    [Fact]
    public void Advantages_NaNReward_NamesIndex()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var e = Assert.Throws<ArgumentException>(() => new GrpoAdvantage().Compute(new[] { 1.0, double.NaN }, new long[] { 0, 0 }));
        Assert.Contains("reward 1", e.Message);
    }

    private static float[] PpoLoss(IPolicyObjective objective, double[] ratios, double[] advantages)
    {
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var logp = tensor(ratios.Select(r => (float)Math.Log(r)).ToArray()).view(-1, 1);
        using var old = zeros(ratios.Length, 1);
        using var adv = tensor(advantages.Select(x => (float)x).ToArray());
        using var mask = ones(ratios.Length, 1);
        var result = objective.Compute(logp, old, adv, mask);
        using var loss = result.PerToken;
        return loss.view(-1).data<float>().ToArray();
    }

    [Fact]
    public void PpoClip_SymmetricClip_EachBranch()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        // ρ = 1.5, A = +1 → clipped high: −1.2; ρ = 0.5, A = −1 → clipped low: 0.8; ρ = 1.1, A = +1 → −1.1; ρ = 1.5, A = −1 → 1.5.
        var loss = PpoLoss(new PpoClipObjective(0.2, 0.2), new[] { 1.5, 0.5, 1.1, 1.5 }, new[] { 1.0, -1, 1, -1 });
        Assert.Equal(new[] { -1.2f, 0.8f, -1.1f, 1.5f }, loss, new ToleranceComparer(1e-6));
    }

    [Fact]
    public void PpoClip_ClipHigher_RaisesOnlyTheCeiling()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var loss = PpoLoss(new PpoClipObjective(0.2, 0.28), new[] { 1.5, 0.5 }, new[] { 1.0, -1 });
        Assert.Equal(new[] { -1.28f, 0.8f }, loss, new ToleranceComparer(1e-6));
    }

    [Fact]
    public void PpoClip_DualClip_CapsNegativeAdvantageLoss()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        // ρ = 5, A = −1: PPO loss max(5, 1.2) = 5, dual clip caps at −c·A = 3. Positive A is untouched.
        var loss = PpoLoss(new PpoClipObjective(0.2, 0.2, dualClip: 3), new[] { 5.0, 5.0, 2.0 }, new[] { -1.0, 1, -1 });
        Assert.Equal(new[] { 3f, -1.2f, 2f }, loss, new ToleranceComparer(1e-6));
    }

    [Fact]
    public void PpoClip_Statistics_CountClippedTokens()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var logp = tensor(new[] { (float)Math.Log(1.5), (float)Math.Log(0.5), 0f }).view(-1, 1);
        using var old = zeros(3, 1);
        using var adv = tensor(new[] { 1f, -1f, 1f });
        using var mask = ones(3, 1);
        var r = new PpoClipObjective().Compute(logp, old, adv, mask);
        r.PerToken.Dispose();
        Assert.Equal((1.0, 1.0, 3.0), (r.ClippedHigh, r.ClippedLow, r.Tokens));
    }

    [Theory]
    [InlineData(LossAggregation.TokenMean, 3.0)]                  // 15 / 5 tokens
    [InlineData(LossAggregation.SequenceMeanOfTokenMean, 3.25)]   // (6/3 + 9/2) / 2
    [InlineData(LossAggregation.SequenceMeanOfTokenSum, 1.875)]   // (6/4 + 9/4) / 2 with C = 4
    public void Aggregate_HandComputed(LossAggregation mode, double expected)
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var loss = tensor(new float[] { 1, 2, 3, 4, 5, 100 }).view(2, 3);
        using var mask = tensor(new float[] { 1, 1, 1, 1, 1, 0 }).view(2, 3);
        using var value = LossAggregator.Aggregate(loss, mask, mode, batchTokens: 5, batchSequences: 2, constantNormalizer: 4);
        Assert.Equal(expected, value.item<float>(), 5);
    }

    [Theory]
    [InlineData(LossAggregation.TokenMean)]
    [InlineData(LossAggregation.SequenceMeanOfTokenMean)]
    [InlineData(LossAggregation.SequenceMeanOfTokenSum)]
    public void Aggregate_MicroBatches_GiveTheFullBatchGradient(LossAggregation mode)
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        float[] values = { 0.3f, -1.2f, 0.7f, 2.0f, 0.1f, -0.4f, 1.5f, 0.9f };
        float[] maskValues = { 1, 1, 0, 1, 1, 1, 1, 0 };
        double tokens = maskValues.Sum();
        using var fullParam = tensor(values).view(4, 2).requires_grad_();
        using var mask = tensor(maskValues).view(4, 2);
        using (var l = LossAggregator.Aggregate(fullParam.square(), mask, mode, tokens, 4, 3)) l.backward();
        using var microParam = tensor(values).view(4, 2).requires_grad_();
        for (int m = 0; m < 2; m++)
        {
            using var l = LossAggregator.Aggregate(microParam.narrow(0, 2 * m, 2).square(), mask.narrow(0, 2 * m, 2), mode, tokens, 4, 3);
            l.backward();
        }
        Assert.Equal(fullParam.grad!.data<float>().ToArray(), microParam.grad!.data<float>().ToArray(), new ToleranceComparer(1e-6));
    }

    [Fact]
    public void KlEstimators_HandComputed()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var logp = tensor(new[] { -1f });
        using var refLogp = tensor(new[] { -2f });
        Assert.Equal(1.0, KlEstimates.PerToken(logp, refLogp, KlEstimator.K1).item<float>(), 6);
        Assert.Equal(0.5, KlEstimates.PerToken(logp, refLogp, KlEstimator.K2).item<float>(), 6);
        Assert.Equal(Math.Exp(-1), KlEstimates.PerToken(logp, refLogp, KlEstimator.K3).item<float>(), 6);   // e^{-1} + 1 − 1
    }
}

internal sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>, IEqualityComparer<float>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(double obj) => 0;
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
    public int GetHashCode(float obj) => 0;
}
