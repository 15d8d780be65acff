using TltTrainer.Telemetry;

namespace TltTrainer.Tests.Telemetry;

public sealed class ResponseStatisticsTests
{
    private static ResponseOutcomes Outcomes(int[] lengths, bool[] stopped, int groups = 1, int flat = 0) =>
        new(lengths, stopped, new[] { "answer", "format" }, lengths.Select((_, i) => new[] { i % 2, 1.0 }).ToArray(), groups, flat);

    [Fact]
    public void Apply_ResponseCutAtTheLimit_CountsInClippedRatioNotInTerminatedMean()
    {
        // Lengths 3 and 5 ended with a stop token; 8 and 8 were cut at an 8-token budget.
        var m = ResponseStatistics.Apply(new StepMetrics(), Outcomes(new[] { 3, 8, 5, 8 }, new[] { true, false, true, false }));
        Assert.Equal(0.5, m.ClippedRatio);
        Assert.Equal(4.0, m.TerminatedLengthMean);
    }

    [Fact]
    public void Apply_NoResponseStopped_ClippedRatioOneAndNoTerminatedMean()
    {
        var m = ResponseStatistics.Apply(new StepMetrics(), Outcomes(new[] { 8, 8 }, new[] { false, false }));
        Assert.Equal(1.0, m.ClippedRatio);
        Assert.Null(m.TerminatedLengthMean);
    }

    [Fact]
    public void Apply_GroupsWithEqualRewards_GiveTheirShare()
    {
        var m = ResponseStatistics.Apply(new StepMetrics(), Outcomes(new[] { 1, 2 }, new[] { true, true }, groups: 4, flat: 3));
        Assert.Equal(0.75, m.ZeroStdGroups);
    }

    [Fact]
    public void Apply_TwoRewardFunctions_MeanOfEachUnweighted()
    {
        var m = ResponseStatistics.Apply(new StepMetrics(), Outcomes(new[] { 1, 2, 3, 4 }, new[] { true, true, true, true }));
        Assert.Equal(0.5, m.RewardFunctionMeans!["answer"]);         // scores 0, 1, 0, 1
        Assert.Equal(1.0, m.RewardFunctionMeans["format"]);
    }

    [Fact]
    public void Apply_AcceptLengths_PassThroughForTheHistogram()
    {
        var outcomes = Outcomes(new[] { 4, 6 }, new[] { true, true }) with { AcceptLengths = new[] { 2.0, 3.0 } };
        Assert.Equal(new[] { 2.0, 3.0 }, ResponseStatistics.Apply(new StepMetrics(), outcomes).AcceptLengths);
    }

    [Fact]
    public void Apply_MismatchedLists_NamesTheCounts()
    {
        var e = Assert.Throws<ArgumentException>(() => ResponseStatistics.Apply(new StepMetrics(), Outcomes(new[] { 1, 2 }, new[] { true })));
        Assert.Contains("2 lengths, 1 stop flags", e.Message);
    }

    [Theory]
    [InlineData(new[] { 1.0, 1.0, 1.0 }, true)]
    [InlineData(new[] { 0.0, 1.0, 0.0 }, false)]
    [InlineData(new[] { 0.5 }, true)]
    public void IsFlat_Cases(double[] rewards, bool expected) => Assert.Equal(expected, ResponseStatistics.IsFlat(rewards));
}
