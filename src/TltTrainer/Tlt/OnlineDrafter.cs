// The TLT pieces an RL step drives around its rollout: tag captured hidden states with the step, let the
// scheduler train the drafter on idle workers during the rollout, and at its end stop training (before
// rewards and the update), commit the remaining windows, publish the drafter and measure it on the
// freshest data.
// Under MPI each rank trains its own copy on its own shard's hidden states. A rank whose shard finishes
// early keeps its idle workers training while the other ranks finish their tails (RoundEnded: a
// non-blocking barrier tells it when they have); at the end of the rollout the copies become one again:
// the mean of the ranks' weights, each weighted by the training steps it took this step, published on
// every rank.
using System.Diagnostics;
using TltTrainer.Distributed;
using TltTrainer.Drafting;

namespace TltTrainer.Tlt;

/// <summary>Online drafter training around each rollout.</summary>
/// <param name="Buffer">Hidden-state buffer (the rollout engines' sink).</param>
/// <param name="Scheduler">Idle-compute scheduler (the parallel rollout's idle listener).</param>
/// <param name="Training">The training step the scheduler runs.</param>
public sealed record OnlineDrafter(HiddenStateBuffer Buffer, IdleComputeScheduler Scheduler, OnlineDrafterTraining Training)
{
    /// <summary>What one rollout phase did for the drafter.</summary>
    /// <param name="Idle">Idle and training worker-seconds.</param>
    /// <param name="Fresh">Drafter loss and top-1 on windows of the newest steps (the tail's training may have seen some of them).</param>
    /// <param name="VersionUsed">Drafter version published before this rollout (what it served at the start).</param>
    /// <param name="CriticalSeconds">Seconds the RL step's own thread spent in these hooks (drafter work on the critical path), waiting for other ranks excluded.</param>
    /// <param name="RankWaitSeconds">Seconds this rank's rollout ended before the slowest rank's (its workers trained the drafter meanwhile); 0 in a single process.</param>
    /// <param name="RankWaitSteps">Drafter training steps this rank took during <paramref name="RankWaitSeconds"/>.</param>
    public sealed record PhaseStats(IdleComputeStats Idle, DrafterStepResult? Fresh, long VersionUsed, double CriticalSeconds, double RankWaitSeconds = 0, int RankWaitSteps = 0);

    private long _versionAtStart, _committedAtStart;
    private DrafterLease _stepStart;              // the weights published at the step's start: what a cancelled step returns to
    private double _beforeSeconds, _waitSeconds;
    private int _waitSteps;

    /// <summary>
    /// Drafter version as of the end of the last completed rollout phase (what a checkpoint records): versions published by a
    /// step that was then cancelled do not count.
    /// </summary>
    public long CommittedVersion { get; private set; }

    /// <summary>Continues from a checkpoint that recorded drafter version <paramref name="version"/>: later versions come after it.</summary>
    public void ContinueFrom(long version)
    {
        Training.ContinueVersionsFrom(version);
        CommittedVersion = version;
    }

    /// <summary>Call before the rollout of RL step <paramref name="step"/>.</summary>
    public void BeforeRollout(int step)
    {
        var clock = Stopwatch.StartNew();
        Buffer.CurrentStep = step;
        _waitSeconds = 0;
        _waitSteps = 0;
        _stepStart.Dispose();
        _committedAtStart = CommittedVersion;
        Training.BeginPhase();
        _versionAtStart = Training.Publish();
        _stepStart = Training.AcquireLatest();
        Scheduler.BeginRollout();
        _beforeSeconds = clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Call when the step was abandoned (failed or cancelled) before the policy update, after <see cref="AbandonRollout"/> or
    /// <see cref="AfterRollout"/>: the training drafter returns to its weights at the step's start, so the abandoned step
    /// leaves no trace in what a checkpoint saves. (The hidden states its rollout captured stay in the buffer, which
    /// checkpoints do not hold.)
    /// </summary>
    public void RollBack()
    {
        if (_stepStart.Snapshot is { } start) Training.Restore(start);
        _stepStart.Dispose();
        _stepStart = default;
        CommittedVersion = _committedAtStart;
    }

    /// <summary>
    /// Call when a rollout round (one Generate) has ended on this rank, before any collective that needs the
    /// other ranks. With more than one rank: commits this shard's windows (so they are trainable at once) and
    /// waits for every rank's round to end on a non-blocking barrier, sleeping between polls so the idle
    /// workers' drafter training has the cores (a blocking MPI call would spin on one). Nothing in a single process.
    /// </summary>
    /// <param name="ranks">The job's ranks (call on the communicating thread, on every rank).</param>
    public void RoundEnded(ICommunicator ranks)
    {
        if (ranks.Size == 1) return;
        Buffer.Commit();
        var wait = Stopwatch.StartNew();
        int before = Training.Steps;
        ranks.SleepingBarrier();
        _waitSeconds += wait.Elapsed.TotalSeconds;
        _waitSteps += Training.Steps - before;
    }

    /// <summary>Call when the rollout failed or was cancelled: stops training (waits for the running step); no collectives.</summary>
    public void AbandonRollout() => Scheduler.BeginUpdate();

    /// <summary>
    /// Call when the rollout has ended: stops training (waits for the running step) and publishes. With more
    /// than one rank, the ranks' drafter copies become one first (call on the communicating thread, on every rank).
    /// </summary>
    /// <param name="ranks">The job's ranks; null = a single process.</param>
    public PhaseStats AfterRollout(ICommunicator? ranks = null)
    {
        var clock = Stopwatch.StartNew();
        var idle = Scheduler.BeginUpdate();
        if (ranks is not null && ranks.Size > 1) Training.ShareAcrossRanks(ranks, idle.Steps);
        else Buffer.Commit();
        var fresh = Training.EvaluateRecent();
        CommittedVersion = Training.PublishedVersion;
        return new PhaseStats(idle, fresh, _versionAtStart, _beforeSeconds + clock.Elapsed.TotalSeconds, _waitSeconds, _waitSteps);
    }
}
