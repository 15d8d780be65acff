using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

public sealed class RolloutEngineTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Fact]
    public void Generate_ContinuousBatching_EqualsEachRequestAlone()
    {
        using var model = TestModels.Peaked(Config, seed: 31);
        var requests = Enumerable.Range(0, 9).Select(i => new RolloutRequest(i,
            Enumerable.Range(0, 2 + i).Select(t => (t * 3 + i) % Config.VocabSize).ToList(),
            new SamplingOptions { Temperature = 0.9, TopK = 20, TopP = 0.95, MaxNewTokens = 4 + 3 * i, Seed = (ulong)i })).ToList();
        var batched = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = 3 }).Generate(requests).Trajectories;
        for (int i = 0; i < requests.Count; i++)
        {
            var alone = new RolloutEngine(model).Generate(new[] { requests[i] }).Trajectories[0];
            Assert.Equal(alone.ResponseTokens, batched[i].ResponseTokens);
            Assert.Equal(requests[i].Sampling.MaxNewTokens, batched[i].ResponseTokens.Length);
        }
    }

    [Fact]
    public void Generate_LogProbs_EqualFreshFullForward()
    {
        using var model = TestModels.Peaked(Config, seed: 32, std: 0.1);
        var options = new SamplingOptions { Temperature = 0.7, TopK = 30, TopP = 0.9, MaxNewTokens = 25, Seed = 5 };
        var requests = Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 }, options with { Seed = (ulong)i })).ToList();
        var trajectories = new RolloutEngine(model).Generate(requests).Trajectories;
        foreach (var t in trajectories) AssertLogProbsMatchFullForward(model, t, options);
    }

    [Theory]
    [InlineData("chain")]
    [InlineData("tree")]
    public void Generate_SpeculativeLogProbs_EqualFreshFullForward(string shape)
    {
        using var model = TestModels.Peaked(Config, seed: 35, std: 0.1);
        using var eagle = new TltTrainer.Speculative.EagleDraftModel(Config, seed: 6);
        using var drafter = new TltTrainer.Speculative.EagleDrafter(model, eagle);
        var strategy = shape == "chain" ? TltTrainer.Speculative.SpecStrategy.ChainOf(3) : TltTrainer.Speculative.SpecStrategy.TreeOf(3, 2, 6);
        var options = new SamplingOptions { Temperature = 0.8, TopK = 40, MaxNewTokens = 30 };
        var requests = Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 }, options with { Seed = (ulong)i })).ToList();
        var result = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = strategy }).Generate(requests);
        Assert.True(result.Metrics.SpeculativeSteps > 0);
        foreach (var t in result.Trajectories) AssertLogProbsMatchFullForward(model, t, options);
    }

    [Fact]
    public void DraftContext_Siblings_AreTheOtherRequestsOfTheGroup_AndNoneWhenUngrouped()
    {
        using var model = TestModels.Peaked(Config, seed: 36);
        var seen = new Dictionary<long, (int[] Own, int[][] Siblings)>();
        using var drafter = new FuncDrafter((ctx, r) =>
        {
            var own = ctx.Tokens[r];
            seen[own[0]] = (own.ToArray(), ctx.Siblings[r].Select(s => s.ToArray()).ToArray());
            return TltTrainer.Speculative.DraftTree.Empty;
        });
        // The first prompt token names the request; groups 0 = {0, 1, 2}, 1 = {3, 4}; 5 and 6 are ungrouped.
        long[] groups = { 0, 0, 0, 1, 1, -1, -1 };
        var requests = groups.Select((g, i) => new RolloutRequest(i, new[] { 10 + i, 2 }, SamplingOptions.Greedy(3), g)).ToList();
        new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = TltTrainer.Speculative.SpecStrategy.ChainOf(2) }).Generate(requests);

        Assert.Equal(requests.Count, seen.Count);
        foreach (var (first, (own, siblings)) in seen)
        {
            long group = groups[first - 10];
            var expected = Enumerable.Range(0, groups.Length).Where(j => group >= 0 && groups[j] == group && j != first - 10).Select(j => 10 + j).ToArray();
            Assert.Equal(expected, siblings.Select(s => s[0]).OrderBy(x => x).ToArray());
            Assert.All(siblings, s => Assert.Equal(2, s[1]));   // whole token lists, not copies of the own row
        }
    }

    [Fact]
    public void Generate_Cancelled_ThrowsBetweenSteps()
    {
        using var model = TestModels.Peaked(Config, seed: 33);
        using var cts = new CancellationTokenSource();
        var progress = new SynchronousProgress<RolloutProgress>(p => { if (p.GeneratedTokens > 5) cts.Cancel(); });
        var request = new RolloutRequest(0, new[] { 1, 2 }, SamplingOptions.Greedy(100));
        Assert.Throws<OperationCanceledException>(() => new RolloutEngine(model).Generate(new[] { request }, cts.Token, progress));
    }

    [Fact]
    public void Generate_PromptFillingTheContext_IsRejectedNamingTheRequest()
    {
        using var model = TestModels.Peaked(Config, seed: 34);
        var request = new RolloutRequest(42, Enumerable.Repeat(1, 300).ToList(), SamplingOptions.Greedy(5));
        var e = Assert.Throws<ArgumentException>(() => new RolloutEngine(model).Generate(new[] { request }));
        Assert.Contains("request 42", e.Message);
    }

    internal static void AssertLogProbsMatchFullForward(CausalLM model, Trajectory t, SamplingOptions options)
    {
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var noGrad = no_grad();
        var all = t.PromptTokens.Concat(t.ResponseTokens).Select(x => (long)x).ToArray();
        using var ids = tensor(all).view(1, -1);
        using var output = model.Forward(ids);
        var logits = output.Logits!.view(all.Length, -1).data<float>().ToArray();
        int v = Config.VocabSize, p = t.PromptTokens.Length;
        for (int i = 0; i < t.ResponseTokens.Length; i++)
        {
            var dist = TokenDistribution.FromLogits(logits.AsSpan((p - 1 + i) * v, v), options);
            Assert.True(Math.Abs(dist.LogProb(t.ResponseTokens[i]) - t.LogProbs[i]) <= 1e-4,
                $"token {i}: rollout {t.LogProbs[i]} vs full forward {dist.LogProb(t.ResponseTokens[i])}");
        }
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>The rollout's course (running batch and arm over time) is recorded at every change.</summary>
public sealed class RolloutTimelineTests
{
    [Fact]
    public void Generate_RecordsTheRunningBatchAndTheArm_AtEveryChange()
    {
        using var model = TestModels.Peaked(TltTrainer.Models.TransformerPresets.Tiny, seed: 35);
        using var drafter = new TltTrainer.Speculative.NGramDrafter();
        var requests = Enumerable.Range(0, 6).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 }, SamplingOptions.Greedy(8 + 4 * i), GroupId: 0)).ToList();
        var metrics = new RolloutEngine(model, new RolloutEngineOptions
        {
            MaxRunningBatch = 4, Drafter = drafter, Strategy = TltTrainer.Speculative.SpecStrategy.ChainOf(3), SpeculateAtOrBelowBatch = 2,
        }).Generate(requests).Metrics;
        var timeline = metrics.Timeline;
        Assert.Equal(4, timeline[0].RunningBatch);
        Assert.Equal("end", timeline[^1].Arm);
        Assert.Equal(0, timeline[^1].RunningBatch);
        Assert.Equal(metrics.TotalSeconds, timeline[^1].Seconds);
        for (int i = 1; i < timeline.Count; i++)
        {
            Assert.True(timeline[i].Seconds >= timeline[i - 1].Seconds);
            Assert.True(timeline[i].RunningBatch != timeline[i - 1].RunningBatch || timeline[i].Arm != timeline[i - 1].Arm, "a point without a change");
        }
        Assert.All(timeline.Where(p => p.RunningBatch > 2), p => Assert.Equal("plain", p.Arm));
        Assert.Contains(timeline, p => p.RunningBatch is > 0 and <= 2 && p.Arm == "ngram/chain-d3");
    }
}
