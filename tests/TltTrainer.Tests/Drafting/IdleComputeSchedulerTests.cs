using TltTrainer.Drafting;

namespace TltTrainer.Tests.Drafting;

public sealed class IdleComputeSchedulerTests
{
    /// <summary>A clock the test (and the fake training step) moves by hand.</summary>
    private sealed class FakeClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => Interlocked.Read(ref _ticks);
        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    /// <summary>A training step that takes 50 ms of fake time and records what it saw.</summary>
    private sealed class FakeStep(FakeClock clock, Func<bool>? inUpdate = null) : IIdleTrainingStep
    {
        public int Runs;
        public readonly List<int> Threads = new();
        public volatile bool Violated;
        public ManualResetEventSlim? Gate;           // when set, each step waits on it (a long step)
        public bool ObserveCancellation = true;      // false: a step that runs to its end regardless
        public CancellationToken Token;               // the running step's token
        public bool Run(int threads, CancellationToken cancellationToken)
        {
            Token = cancellationToken;
            if (inUpdate?.Invoke() == true) Violated = true;
            lock (Threads) Threads.Add(threads);
            if (ObserveCancellation) Gate?.Wait(cancellationToken);
            else Gate?.Wait();
            clock.Advance(TimeSpan.FromMilliseconds(50));
            Interlocked.Increment(ref Runs);
            return true;
        }
    }

    private static void WaitFor(Func<bool> condition) => Assert.True(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), "condition not reached");

    [Fact]
    public void Training_RunsOnlyWhileSomeWorkerIsIdle_WithTheirPooledThreads()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock);
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        Assert.False(SpinWait.SpinUntil(() => step.Runs > 0, TimeSpan.FromMilliseconds(100)), "trained with no idle worker");
        scheduler.ReportIdle(0);
        WaitFor(() => step.Runs >= 3);
        scheduler.ReportIdle(1);
        WaitFor(() => { lock (step.Threads) return step.Threads.Contains(2); });
        scheduler.ReportBusy(0);
        scheduler.ReportBusy(1);
        WaitFor(() => !scheduler.IsTraining);
        int runs = step.Runs;
        Assert.False(SpinWait.SpinUntil(() => step.Runs > runs + 1, TimeSpan.FromMilliseconds(100)), "trained after every worker was reclaimed");
        var stats = scheduler.BeginUpdate();
        Assert.True(stats.Steps >= 3);
        Assert.True(stats.UsedFraction > 0.5, $"used fraction {stats.UsedFraction:F2}");
    }

    [Fact]
    public void BeginUpdate_WaitsForTheRunningStep_AndNoStepRunsDuringTheUpdate()
    {
        var clock = new FakeClock();
        bool updating = false;
        var step = new FakeStep(clock, () => Volatile.Read(ref updating)) { Gate = new ManualResetEventSlim(false), ObserveCancellation = false };
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(1);
        WaitFor(() => scheduler.IsTraining);
        var update = new Thread(() => { scheduler.BeginUpdate(); Volatile.Write(ref updating, true); });
        update.Start();
        Assert.False(update.Join(100), "BeginUpdate returned while a step was running");
        step.Gate.Set();                                      // the step ends (or sees the cancellation)
        Assert.True(update.Join(TimeSpan.FromSeconds(10)));
        Assert.False(scheduler.IsTraining);
        scheduler.ReportIdle(0);                              // idle during the update: must not train
        Assert.False(SpinWait.SpinUntil(() => step.Violated || scheduler.IsTraining, TimeSpan.FromMilliseconds(150)));
        Assert.False(step.Violated);
    }

    [Fact]
    public void ReportBusy_DuringAStep_IsHandedBackWithinOneStep()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock) { Gate = new ManualResetEventSlim(false) };
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        WaitFor(() => scheduler.IsTraining);
        scheduler.ReportBusy(0);                               // rollout needs worker 0 mid-step
        step.Gate.Set();
        WaitFor(() => !scheduler.IsTraining);
        int runs = step.Runs;
        Assert.False(SpinWait.SpinUntil(() => step.Runs > runs, TimeSpan.FromMilliseconds(100)));
        var stats = scheduler.BeginUpdate();
        Assert.True(stats.MaxHandBackSeconds <= 0.05 + 1e-9, $"hand-back {stats.MaxHandBackSeconds:F3}s > one step (0.05s)");
    }

    [Fact]
    public void TrainingSeconds_StepOutlivesItsIdleInterval_ChargedOnlyTheIdlePart()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock) { Gate = new ManualResetEventSlim(false) };
        using var scheduler = new IdleComputeScheduler(2, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        WaitFor(() => scheduler.IsTraining);                  // the step borrowed worker 0 at t = 0
        clock.Advance(TimeSpan.FromMilliseconds(10));
        scheduler.ReportBusy(0);                               // reclaimed at t = 10 ms; the step runs on to t = 60 ms
        step.Gate.Set();
        WaitFor(() => !scheduler.IsTraining);
        var stats = scheduler.BeginUpdate();
        Assert.Equal(1, stats.Steps);
        Assert.Equal(0.010, stats.IdleWorkerSeconds, 9);
        Assert.Equal(0.010, stats.TrainingWorkerSeconds, 9);  // charged whole before: 0.060, a share of 6
        Assert.Equal(1.0, stats.UsedFraction, 9);
    }

    [Fact]
    public void TrainingSeconds_UpdateStartsMidStep_NeverExceedIdleSeconds()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock) { Gate = new ManualResetEventSlim(false), ObserveCancellation = false };
        using var scheduler = new IdleComputeScheduler(1, step, clock);   // one worker: the case that read 19.66
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        WaitFor(() => scheduler.IsTraining);
        clock.Advance(TimeSpan.FromMilliseconds(4));
        IdleComputeStats? stats = null;
        var update = new Thread(() => stats = scheduler.BeginUpdate());
        update.Start();                                        // reclaims the worker at t = 4 ms, then waits for the step
        // Cancelled, then blocked: BeginUpdate has stopped training and reclaimed the worker, and waits for the step.
        WaitFor(() => step.Token.IsCancellationRequested && update.ThreadState == ThreadState.WaitSleepJoin);
        step.Gate.Set();                                       // the step ends at t = 54 ms
        Assert.True(update.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal(0.004, stats!.IdleWorkerSeconds, 9);
        Assert.Equal(0.004, stats.TrainingWorkerSeconds, 9);
        Assert.InRange(stats.UsedFraction, 0, 1);
    }

    [Fact]
    public void ReportIdle_OutsideARolloutPhase_IsIgnoredAndTheNextRolloutStartsBusy()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock);
        using var scheduler = new IdleComputeScheduler(1, step, clock);
        scheduler.ReportIdle(0);                               // e.g. an evaluation on the same workers between steps
        clock.Advance(TimeSpan.FromSeconds(5));
        scheduler.BeginRollout();
        Assert.False(SpinWait.SpinUntil(() => step.Runs > 0, TimeSpan.FromMilliseconds(100)), "trained on a worker the rollout has not released");
        var stats = scheduler.BeginUpdate();
        Assert.Equal(0, stats.IdleWorkerSeconds);
        Assert.Equal(0, stats.Steps);
    }

    [Fact]
    public void Dispose_WhileTraining_StopsCleanly()
    {
        var clock = new FakeClock();
        var step = new FakeStep(clock) { Gate = new ManualResetEventSlim(false) };
        var scheduler = new IdleComputeScheduler(1, step, clock);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        WaitFor(() => scheduler.IsTraining);
        scheduler.Dispose();                                   // cancels the step's token; the lane exits
        Assert.False(scheduler.IsTraining);
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
        using var scheduler = new IdleComputeScheduler(1, step);
        scheduler.BeginRollout();
        scheduler.ReportIdle(0);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref step.Calls) == 0 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Thread.Sleep(50);                                           // a crashing lane would have taken the process down by now
        var stats = scheduler.BeginUpdate();
        Assert.Equal(1, step.Calls);                                // paused after the failure, no retry storm
        Assert.Contains("drafter blew up", stats.Failure);
        scheduler.BeginRollout();                                   // the next rollout tries again
        scheduler.ReportIdle(0);
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (Volatile.Read(ref step.Calls) < 2 && DateTime.UtcNow < deadline) Thread.Sleep(5);
        Assert.Equal(2, scheduler.BeginUpdate() is { Failure: not null } ? step.Calls : -1);
    }
}
