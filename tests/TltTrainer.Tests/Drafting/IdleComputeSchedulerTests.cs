using TltTrainer.Drafting;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

/// <summary>
/// Specifications of the idle-compute scheduler. Deterministic: time is a fake clock the training step moves, every step
/// waits for the test's permit, and what must not happen is checked once the lane has settled (parked after the last
/// state change), never by waiting a while. The only real-time bound is a hang guard.
/// </summary>
public sealed class IdleComputeSchedulerTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A training step that announces itself, waits for the test's permit, then takes 50 ms of fake time. With
    /// <see cref="ObserveCancellation"/> a cancelled step ends at once without counting as trained.
    /// </summary>
    private sealed class GatedStep(ManualClock clock, Func<bool>? inUpdate = null) : IIdleTrainingStep, IDisposable
    {
        private readonly SemaphoreSlim _entered = new(0), _permits = new(0);
        public int Runs;
        public readonly List<int> Threads = new();
        public volatile bool Violated;
        public bool ObserveCancellation = true;
        public CancellationToken Token;

        public bool Run(int threads, CancellationToken cancellationToken)
        {
            Token = cancellationToken;
            if (inUpdate?.Invoke() == true) Violated = true;
            lock (Threads) Threads.Add(threads);
            _entered.Release();
            if (ObserveCancellation) _permits.Wait(cancellationToken);
            else _permits.Wait(HangGuard);
            clock.Advance(TimeSpan.FromMilliseconds(50));
            Interlocked.Increment(ref Runs);
            return true;
        }

        /// <summary>Waits until the next step has started.</summary>
        public void AwaitStart() => Assert.True(_entered.Wait(HangGuard), "no training step started");

        /// <summary>Lets the running (or next) step finish.</summary>
        public void Permit() => _permits.Release();

        public int LastThreads { get { lock (Threads) return Threads[^1]; } }

        public void Dispose()
        {
            _entered.Dispose();
            _permits.Dispose();
        }
    }

    private static void Settle(IdleComputeScheduler scheduler) => Assert.True(scheduler.WaitUntilSettled(HangGuard), "the training lane never settled");

    /// <summary>Waits until <paramref name="thread"/> is blocked or has ended (after the step's token was cancelled inside BeginUpdate's lock).</summary>
    private static void AwaitBlockedOrEnded(Thread thread, GatedStep step) =>
        Assert.True(SpinWait.SpinUntil(() => step.Token.IsCancellationRequested && (thread.ThreadState & (ThreadState.WaitSleepJoin | ThreadState.Stopped)) != 0, HangGuard),
            "BeginUpdate neither blocked nor returned");

    [Fact]
    public void Training_RunsOnlyWhileSomeWorkerIsIdle_WithTheirPooledThreads()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        Settle(scheduler);
        Assert.Equal(0, step.Runs);                           // no idle worker: nothing ran
        scheduler.ReportIdle(0);                              // t = 0
        step.AwaitStart();
        Assert.Equal(1, step.LastThreads);
        step.Permit();                                        // step 1: [0, 50 ms) on worker 0
        step.AwaitStart();
        scheduler.ReportIdle(1);                              // t = 50 ms, during step 2 (which borrowed worker 0 only)
        step.Permit();                                        // step 2: [50, 100 ms)
        step.AwaitStart();
        Assert.Equal(2, step.LastThreads);                    // step 3 pools both idle workers
        scheduler.ReportBusy(0);                              // t = 100 ms: both reclaimed at the step's start
        scheduler.ReportBusy(1);
        step.Permit();
        Settle(scheduler);
        Assert.Equal(3, step.Runs);                           // nothing ran after every worker was reclaimed
        var stats = scheduler.BeginUpdate();
        Assert.Equal(3, stats.Steps);
        Assert.Equal(0.100 + 0.050, stats.IdleWorkerSeconds, 9);
        Assert.Equal(0.050 + 0.050 + 0, stats.TrainingWorkerSeconds, 9);
        Assert.Equal(0.1 / 0.15, stats.UsedFraction, 9);
    }

    [Fact]
    public void BeginUpdate_WaitsForTheRunningStep_AndNoStepRunsDuringTheUpdate()
    {
        var clock = new ManualClock();
        bool updating = false;
        using var step = new GatedStep(clock, () => Volatile.Read(ref updating)) { ObserveCancellation = false };
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(1);
        step.AwaitStart();
        var update = new Thread(() => { scheduler.BeginUpdate(); Volatile.Write(ref updating, true); });
        update.Start();
        AwaitBlockedOrEnded(update, step);
        Assert.True(update.IsAlive, "BeginUpdate returned while a step was running");
        Assert.True(scheduler.IsTraining);
        step.Permit();                                        // the step ends (it ignores the cancellation)
        Assert.True(update.Join(HangGuard));
        Assert.False(scheduler.IsTraining);
        scheduler.ReportIdle(0);                              // idle during the update: must not train
        Settle(scheduler);
        Assert.Equal(1, step.Runs);
        Assert.False(step.Violated);
    }

    [Fact]
    public void ReportBusy_DuringAStep_IsHandedBackWithinOneStep()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        step.AwaitStart();
        scheduler.ReportBusy(0);                               // the rollout needs worker 0 mid-step
        step.Permit();
        Settle(scheduler);
        Assert.Equal(1, step.Runs);                            // no further step on the reclaimed worker
        var stats = scheduler.BeginUpdate();
        Assert.Equal(0.05, stats.MaxHandBackSeconds, 9);       // back when the step ended: one step (50 ms)
    }

    [Fact]
    public void TrainingSeconds_StepOutlivesItsIdleInterval_ChargedOnlyTheIdlePart()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        step.AwaitStart();                                     // the step borrowed worker 0 at t = 0
        clock.Advance(TimeSpan.FromMilliseconds(10));
        scheduler.ReportBusy(0);                               // reclaimed at t = 10 ms; the step runs on to t = 60 ms
        step.Permit();
        Settle(scheduler);
        var stats = scheduler.BeginUpdate();
        Assert.Equal(1, stats.Steps);
        Assert.Equal(0.010, stats.IdleWorkerSeconds, 9);
        Assert.Equal(0.010, stats.TrainingWorkerSeconds, 9);  // charged whole before: 0.060, a share of 6
        Assert.Equal(1.0, stats.UsedFraction, 9);
    }

    [Fact]
    public void Spans_RecordEachStepOnTheRolloutsClock_WithTheWorkersItUsed()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();                              // t = 0: the phase's origin
        clock.Advance(TimeSpan.FromMilliseconds(100));
        scheduler.ReportIdle(1);
        step.AwaitStart();                                     // first step: worker 1, from t = 100 ms to 150 ms
        step.Permit();
        step.AwaitStart();                                     // second step starts at once at t = 150 ms
        scheduler.ReportIdle(0);                               // too late for it: it already borrowed worker 1 only
        step.Permit();
        step.AwaitStart();                                     // third: both idle workers, t = 200 to 250 ms
        step.Permit();
        step.AwaitStart();                                     // a fourth has started, so the third has ended; the update cancels the fourth
        var stats = scheduler.BeginUpdate();
        Assert.Equal(3, stats.Spans!.Count);
        Assert.Equal(stats.Steps, stats.Spans!.Count);
        Assert.Equal((0.100, 0.150), (Math.Round(stats.Spans[0].Start, 9), Math.Round(stats.Spans[0].End, 9)));
        Assert.Equal(new[] { 1 }, stats.Spans[0].Workers);
        Assert.Equal((0.150, 0.200), (Math.Round(stats.Spans[1].Start, 9), Math.Round(stats.Spans[1].End, 9)));
        Assert.Equal(new[] { 1 }, stats.Spans[1].Workers);
        Assert.Equal(new[] { 0, 1 }, stats.Spans[2].Workers);
        scheduler.BeginRollout();
        Assert.Empty(scheduler.BeginUpdate().Spans!);          // a new phase starts with none
    }

    [Fact]
    public void TrainingSeconds_UpdateStartsMidStep_NeverExceedIdleSeconds()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock) { ObserveCancellation = false };
        using var scheduler = new IdleComputeScheduler(1, step, clock);   // one worker: the case that read 19.66
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        step.AwaitStart();
        clock.Advance(TimeSpan.FromMilliseconds(4));
        IdleComputeStats? stats = null;
        var update = new Thread(() => stats = scheduler.BeginUpdate());
        update.Start();                                        // reclaims the worker at t = 4 ms, then waits for the step
        AwaitBlockedOrEnded(update, step);
        Assert.True(update.IsAlive, "BeginUpdate returned while a step was running");
        step.Permit();                                         // the step ends at t = 54 ms
        Assert.True(update.Join(HangGuard));
        Assert.Equal(0.004, stats!.IdleWorkerSeconds, 9);
        Assert.Equal(0.004, stats.TrainingWorkerSeconds, 9);
        Assert.Equal(1.0, stats.UsedFraction, 9);
    }

    [Fact]
    public void ReportIdle_OutsideARolloutPhase_IsIgnoredAndTheNextRolloutStartsBusy()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        using var scheduler = new IdleComputeScheduler(1, step, clock);
        scheduler.ReportIdle(0);                               // e.g. an evaluation on the same workers between steps
        clock.Advance(TimeSpan.FromSeconds(5));
        scheduler.BeginRollout();
        Settle(scheduler);
        Assert.Equal(0, step.Runs);                            // trained on no worker the rollout has not released
        var stats = scheduler.BeginUpdate();
        Assert.Equal(0, stats.IdleWorkerSeconds);
        Assert.Equal(0, stats.Steps);
    }

    [Fact]
    public void Dispose_WhileTraining_StopsCleanly()
    {
        var clock = new ManualClock();
        using var step = new GatedStep(clock);
        var scheduler = new IdleComputeScheduler(1, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        step.AwaitStart();
        scheduler.Dispose();                                   // cancels the step's token; the lane exits
        Assert.False(scheduler.IsTraining);
        Assert.Equal(0, step.Runs);                            // the cancelled step did not finish
    }

    private sealed class ThrowingStep : IIdleTrainingStep
    {
        public int Calls;

        public bool Run(int threads, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            throw new InvalidOperationException("drafter blew up");
        }
    }

    [Fact]
    public void StepThatThrows_DoesNotCrash_IsReported_AndPausesTrainingUntilTheNextRollout()
    {
        var step = new ThrowingStep();
        using var scheduler = new IdleComputeScheduler(1, step, new ManualClock());
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        Settle(scheduler);                                          // the lane ran the step, caught its error and paused
        Assert.Equal(1, step.Calls);                                // no retry storm
        var stats = scheduler.BeginUpdate();
        Assert.Contains("drafter blew up", stats.Failure);
        scheduler.BeginRollout();                                   // the next rollout tries again
        scheduler.ReportIdle(0);
        Settle(scheduler);
        Assert.Equal(2, step.Calls);
        Assert.Contains("drafter blew up", scheduler.BeginUpdate().Failure);
    }
}
