// The TLT pieces an RL step drives around its rollout: tag captured hidden states with the step, let the
// scheduler train the drafter on idle workers during the rollout, and at its end stop training (before
// rewards and the update), commit the remaining windows, publish the drafter and measure it on the
// freshest data.
using TltTrainer.Drafting;

namespace TltTrainer.Rl;

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
    /// <param name="CriticalSeconds">Seconds the RL step's own thread spent in these hooks (drafter work on the critical path).</param>
    public sealed record PhaseStats(IdleComputeStats Idle, DrafterStepResult? Fresh, long VersionUsed, double CriticalSeconds);

    private long _versionAtStart;
    private double _beforeSeconds;

    /// <summary>Call before the rollout of RL step <paramref name="step"/>.</summary>
    public void BeforeRollout(int step)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Buffer.CurrentStep = step;
        _versionAtStart = Training.Publish();
        Scheduler.BeginRollout();
        _beforeSeconds = clock.Elapsed.TotalSeconds;
    }

    /// <summary>Call when the rollout has ended: stops training (waits for the running step) and publishes.</summary>
    public PhaseStats AfterRollout()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var idle = Scheduler.BeginUpdate();
        Buffer.Commit();
        var fresh = Training.EvaluateRecent();
        return new PhaseStats(idle, fresh, _versionAtStart, _beforeSeconds + clock.Elapsed.TotalSeconds);
    }
}
