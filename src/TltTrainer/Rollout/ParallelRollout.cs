// Rollout on N compute workers: on CPU, threads with their own intra-op thread budget (2 workers of 1
// thread on a 2-core machine); on GPU, one engine per device. Requests are sharded by whole groups
// (siblings stay together, so the n-gram drafter can read across them) and balanced by expected length
// (longest-processing-time first). A worker whose share is finished reports itself idle to the idle
// listener (the drafter-training scheduler) and stays idle for the rest of the rollout, until a further
// Generate on the same workers reports it busy again; the rollout returns when every worker is done. A worker that throws cancels the others and its error is rethrown.
// Each worker runs on its own long-lived thread (created at the first rollout, ended by Dispose): a new
// thread per rollout paid libtorch's per-thread warm-up every RL step.
using System.Diagnostics;
using TorchSharp;

namespace TltTrainer.Rollout;

/// <summary>Told when rollout workers become idle, and busy again.</summary>
public interface IWorkerIdleListener
{
    /// <summary>Worker <paramref name="worker"/> has nothing left to do.</summary>
    void ReportIdle(int worker);

    /// <summary>Worker <paramref name="worker"/> starts work again (a further rollout round on the same workers). Default: nothing.</summary>
    void ReportBusy(int worker) { }
}

/// <summary>Runs a rollout on several workers in parallel.</summary>
public sealed class ParallelRollout : IRolloutGenerator, IDisposable
{
    private DedicatedThread[]? _threads;
    private readonly IReadOnlyList<RolloutEngine> _workers;
    private readonly int _threadsPerWorker;
    private readonly Func<RolloutRequest, double> _expectedLength;

    /// <summary>Creates the rollout over <paramref name="workers"/> (one engine each, with its own drafter instances).</summary>
    /// <param name="workers">Engines over the same policy.</param>
    /// <param name="threadsPerWorker">Intra-op threads each worker thread uses.</param>
    /// <param name="expectedLength">Estimated cost of a request for balancing; default its prompt length.</param>
    public ParallelRollout(IReadOnlyList<RolloutEngine> workers, int threadsPerWorker = 1, Func<RolloutRequest, double>? expectedLength = null)
    {
        if (workers.Count == 0) throw new ArgumentException("at least one worker is needed.", nameof(workers));
        ArgumentOutOfRangeException.ThrowIfLessThan(threadsPerWorker, 1);
        _workers = workers;
        _threadsPerWorker = threadsPerWorker;
        _expectedLength = expectedLength ?? (r => r.PromptTokens.Count);
    }

    /// <summary>Receives idle reports (e.g. the idle-compute scheduler), or null.</summary>
    public IWorkerIdleListener? IdleListener { get; set; }

    /// <summary>Seconds each worker spent on its share in the last rollout.</summary>
    public IReadOnlyList<double> LastWorkerSeconds { get; private set; } = Array.Empty<double>();

    /// <inheritdoc />
    public int SequenceCapacity => _workers.Min(w => w.SequenceCapacity);

    /// <inheritdoc />
    public RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default, IProgress<RolloutProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var shards = Shard(requests);
        var results = new RolloutResult?[_workers.Count];
        var seconds = new double[_workers.Count];
        Exception? failure = null;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _threads ??= Enumerable.Range(0, _workers.Count).Select(w => new DedicatedThread($"tlt-rollout-worker-{w}", _threadsPerWorker)).ToArray();
        var jobs = Enumerable.Range(0, _workers.Count).Select(w => _threads[w].Run(() =>
        {
            var workerClock = Stopwatch.StartNew();
            IdleListener?.ReportBusy(w);   // a worker idle since an earlier round (dynamic sampling) is needed again
            try
            {
                var shard = shards[w].Select(i => requests[i]).ToList();
                results[w] = _workers[w].Generate(shard, linked.Token, w == 0 ? progress : null);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                linked.Cancel();
            }
            finally
            {
                seconds[w] = workerClock.Elapsed.TotalSeconds;
                IdleListener?.ReportIdle(w);
            }
        })).ToArray();
        Task.WaitAll(jobs);
        LastWorkerSeconds = seconds;
        if (failure is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
        var merged = new Trajectory[requests.Count];
        var metrics = new RolloutMetrics();
        for (int w = 0; w < _workers.Count; w++)
        {
            for (int k = 0; k < shards[w].Count; k++) merged[shards[w][k]] = results[w]!.Trajectories[k];
            Accumulate(metrics, results[w]!.Metrics);
            // Each worker's course, on the rollout's clock (a worker starts when its thread picks the job up: within milliseconds).
            metrics.Timeline.AddRange(results[w]!.Metrics.Timeline.Select(p => p with { Worker = w }));
        }
        metrics.TotalSeconds = clock.Elapsed.TotalSeconds;
        return new RolloutResult(merged, metrics);
    }

    /// <summary>Request indices per worker: whole groups, longest first, each to the least-loaded worker.</summary>
    private List<int>[] Shard(IReadOnlyList<RolloutRequest> requests)
    {
        var shards = Enumerable.Range(0, _workers.Count).Select(_ => new List<int>()).ToArray();
        var load = new double[_workers.Count];
        var groups = Enumerable.Range(0, requests.Count).GroupBy(i => requests[i].GroupId < 0 ? -1 - i : requests[i].GroupId)
            .Select(g => (Members: g.ToList(), Cost: g.Sum(i => _expectedLength(requests[i]))))
            .OrderByDescending(g => g.Cost).ThenBy(g => g.Members[0]);
        foreach (var (members, cost) in groups)
        {
            int w = Array.IndexOf(load, load.Min());
            shards[w].AddRange(members);
            load[w] += cost;
        }
        foreach (var s in shards) s.Sort();
        return shards;
    }

    private static void Accumulate(RolloutMetrics total, RolloutMetrics part)
    {
        total.DecodeSteps += part.DecodeSteps;
        total.SpeculativeSteps += part.SpeculativeSteps;
        total.GeneratedTokens += part.GeneratedTokens;
        total.DraftedTokens += part.DraftedTokens;
        total.AcceptedTokens += part.AcceptedTokens;
        total.AcceptLengthSum += part.AcceptLengthSum;
        total.SpeculativeRowRounds += part.SpeculativeRowRounds;
        total.CanonicalDraws += part.CanonicalDraws;
        total.PrefillSeconds += part.PrefillSeconds;
        total.DraftSeconds += part.DraftSeconds;
        total.VerifySeconds += part.VerifySeconds;
        foreach (var (k, v) in part.ArmChoices) total.ArmChoices[k] = total.ArmChoices.GetValueOrDefault(k) + v;
        total.DrafterFailures.AddRange(part.DrafterFailures);
    }

    /// <summary>Ends the worker threads (after any running rollout).</summary>
    public void Dispose()
    {
        if (_threads is null) return;
        foreach (var t in _threads) t.Dispose();
        _threads = null;
    }
}
