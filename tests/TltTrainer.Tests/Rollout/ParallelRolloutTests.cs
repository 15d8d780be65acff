using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

public sealed class ParallelRolloutTests
{
    private sealed class IdleRecorder : IWorkerIdleListener
    {
        public readonly List<int> Idle = new();
        public void ReportIdle(int worker) { lock (Idle) Idle.Add(worker); }
    }

    [Fact]
    public void TwoWorkers_SameTrajectoriesAsOneEngine_AndBothReportIdle()
    {
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 101);
        var requests = Enumerable.Range(0, 10).Select(i => new RolloutRequest(i, new[] { 1, 2 + i % 4, 3 },
            new SamplingOptions { Temperature = 1, MaxNewTokens = 5 + 4 * (i % 3), Seed = (ulong)i }, GroupId: i / 2)).ToList();
        var single = new RolloutEngine(model).Generate(requests).Trajectories;
        var recorder = new IdleRecorder();
        using var parallel = new ParallelRollout(new[] { new RolloutEngine(model), new RolloutEngine(model) }) { IdleListener = recorder };
        var result = parallel.Generate(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(single[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
        Assert.Equal(new[] { 0, 1 }, recorder.Idle.OrderBy(x => x));
        Assert.Equal(single.Sum(t => t.ResponseTokens.Length), result.Metrics.GeneratedTokens);
    }

    [Fact]
    public void WorkerThatThrows_FailsTheRolloutWithItsError()
    {
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 102);
        var requests = Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, i == 3 ? new[] { 1, 999 } : new[] { 1, 2 },
            SamplingOptions.Greedy(5), GroupId: i)).ToList();
        using var parallel = new ParallelRollout(new[] { new RolloutEngine(model), new RolloutEngine(model) });
        var e = Assert.Throws<ArgumentException>(() => parallel.Generate(requests));
        Assert.Contains("request 3", e.Message);
    }
}
