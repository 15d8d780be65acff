// Gives compute that the rollout's long tail leaves idle to drafter training, and gives it back.
//
// Workers are the rollout's compute units (thread-budgeted workers on CPU, devices on GPU). The rollout
// reports a worker idle when its share is done or its running batch stays small, and busy again when it
// needs it. While the phase is Rollout and at least one worker is idle, one training lane runs bounded
// drafter steps with the threads of all idle workers pooled (so there is always exactly one drafter,
// never diverging copies). It keeps going until the rollout needs the workers back or the policy update
// starts, not merely until an idle worker's bookkeeping ends. Stopping is cooperative, between steps, so
// a reclaimed worker is back within one training step; BeginUpdate waits for the lane, so no drafter
// training ever overlaps the policy update. Time is read from an injected TimeProvider (tests use a fake).
// Accounting: a training step is charged only the worker-seconds during which the workers it borrowed
// were actually idle (from the step's start until the step ends or the worker is reclaimed, whichever
// comes first), so the training worker-seconds are a subset of the idle worker-seconds and their share
// lies in [0, 1]. Before, a step that outlived its idle interval (the rollout reclaiming the worker, or
// the update starting) was charged whole, and with one worker the share read up to 20x. Idle reports
// outside a rollout phase (e.g. an evaluation on the same workers) are ignored.
// Tests observe the lane through events, never by waiting a while: every state change bumps a counter,
// and WaitUntilSettled returns once the lane has parked after seeing the latest change with nothing to do.
namespace TltTrainer.Drafting;

/// <summary>One bounded drafter-training step run on idle compute.</summary>
public interface IIdleTrainingStep
{
    /// <summary>Runs one step using <paramref name="threads"/> threads; returns false when there is nothing to train on yet.</summary>
    bool Run(int threads, CancellationToken cancellationToken);
}

/// <summary>Totals of one rollout phase.</summary>
/// <param name="IdleWorkerSeconds">Σ over workers of time reported idle.</param>
/// <param name="TrainingWorkerSeconds">Σ over training steps and the idle workers whose threads they used, of the time the step ran while
/// that worker was idle (a step that outlives its idle interval is charged only its part inside it); never more than <paramref name="IdleWorkerSeconds"/>.</param>
/// <param name="Steps">Training steps run.</param>
/// <param name="MaxHandBackSeconds">Longest time from a worker being reclaimed to the step using it ending.</param>
/// <param name="Failure">The error of a training step that threw in this phase (training then paused until the next rollout), or null.</param>
/// <param name="Spans">When the training steps ran, in seconds since the phase began, with the workers whose threads they used (null: none recorded).</param>
public sealed record IdleComputeStats(double IdleWorkerSeconds, double TrainingWorkerSeconds, int Steps, double MaxHandBackSeconds, string? Failure = null,
    IReadOnlyList<IdleTrainingSpan>? Spans = null)
{
    /// <summary>Share of idle worker time spent training, in [0, 1] (the clamp only absorbs floating-point rounding).</summary>
    public double UsedFraction => IdleWorkerSeconds <= 0 ? 0 : Math.Clamp(TrainingWorkerSeconds / IdleWorkerSeconds, 0, 1);
}

/// <summary>One drafter-training step on idle compute, for the rollout timeline.</summary>
/// <param name="Start">Seconds since the rollout phase began when the step started.</param>
/// <param name="End">Seconds since the rollout phase began when the step ended.</param>
/// <param name="Workers">The idle workers whose threads the step used.</param>
public sealed record IdleTrainingSpan(
    [property: System.Text.Json.Serialization.JsonPropertyName("start")] double Start,
    [property: System.Text.Json.Serialization.JsonPropertyName("end")] double End,
    [property: System.Text.Json.Serialization.JsonPropertyName("workers")] IReadOnlyList<int> Workers);

/// <summary>Schedules drafter training on idle rollout workers.</summary>
public sealed class IdleComputeScheduler : Rollout.IWorkerIdleListener, IDisposable
{
    private readonly IIdleTrainingStep _step;
    private readonly TimeProvider _clock;
    private readonly object _gate = new();
    private readonly long?[] _idleSince;
    private readonly bool[] _lent;                 // workers whose threads the running step uses and that are still idle
    private long _stepStart;
    private double _stepSeconds;                   // lent worker-seconds of the running step already closed (workers reclaimed mid-step)
    private readonly Thread _lane;
    private bool _rollout, _disposed, _training;
    private CancellationTokenSource _stop = new();
    private double _idleSeconds, _trainingSeconds, _maxHandBack;
    private int _steps;
    private long _changes;                         // state changes so far (phases, idle and busy reports, dispose)
    private long _parkedAt = -1;                   // _changes when the lane last parked with nothing to do; -1 while it works
    private string? _failure;
    private readonly List<long> _reclaimedAt = new();
    private readonly List<IdleTrainingSpan> _spans = new();
    private long _phaseStart;

    /// <summary>Creates a scheduler for <paramref name="workers"/> workers; the lane thread starts at once and waits.</summary>
    public IdleComputeScheduler(int workers, IIdleTrainingStep step, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _step = step;
        _clock = clock ?? TimeProvider.System;
        _idleSince = new long?[workers];
        _lent = new bool[workers];
        _lane = new Thread(Lane) { IsBackground = true, Name = "tlt-idle-drafter-training" };
        _lane.Start();
    }

    /// <summary>Whether a training step is running now.</summary>
    public bool IsTraining { get { lock (_gate) return _training; } }

    /// <summary>Starts a rollout phase: training is allowed on idle workers. Resets the phase totals; every worker starts busy.</summary>
    public void BeginRollout()
    {
        lock (_gate)
        {
            _rollout = true;
            Array.Clear(_idleSince);
            _idleSeconds = _trainingSeconds = _maxHandBack = 0;
            _steps = 0;
            _failure = null;
            _spans.Clear();
            _phaseStart = _clock.GetTimestamp();
            _stop = new CancellationTokenSource();
            Changed();
        }
    }

    /// <summary>Worker <paramref name="worker"/> has nothing to do (its share finished, or its batch stays small). Ignored outside a rollout phase.</summary>
    public void ReportIdle(int worker)
    {
        lock (_gate)
        {
            if (!_rollout) return;
            _idleSince[worker] ??= _clock.GetTimestamp();
            Changed();
        }
    }

    /// <summary>The rollout needs <paramref name="worker"/> again; training stops using it after the current step.</summary>
    public void ReportBusy(int worker)
    {
        lock (_gate)
        {
            ReportBusyLocked(worker);
            Changed();
        }
    }

    /// <summary>Ends the rollout phase before the policy update: stops training and waits until the running step has ended.</summary>
    /// <returns>The phase's totals.</returns>
    public IdleComputeStats BeginUpdate()
    {
        lock (_gate)
        {
            _rollout = false;
            _stop.Cancel();
            for (int w = 0; w < _idleSince.Length; w++) ReportBusyLocked(w);
            Changed();
            while (_training) Monitor.Wait(_gate);
            return new IdleComputeStats(_idleSeconds, _trainingSeconds, _steps, _maxHandBack, _failure, _spans.ToArray());
        }
    }

    private void ReportBusyLocked(int worker)
    {
        if (_idleSince[worker] is not { } since) return;
        long now = _clock.GetTimestamp();
        _idleSeconds += _clock.GetElapsedTime(since, now).TotalSeconds;
        _idleSince[worker] = null;
        if (!_training) return;
        _reclaimedAt.Add(now);
        if (_lent[worker])
        {
            _stepSeconds += _clock.GetElapsedTime(_stepStart, now).TotalSeconds;   // the step had this worker only until now
            _lent[worker] = false;
        }
    }

    private int IdleCount() => _idleSince.Count(s => s is not null);

    private void Changed()
    {
        _changes++;
        Monitor.PulseAll(_gate);
    }

    /// <summary>
    /// Test seam: blocks until the lane has parked with nothing to do after seeing every state change made so far (no
    /// rollout phase, no idle worker, or paused after a failure), so that a test can check what did not happen without
    /// waiting a while. Returns false only if <paramref name="hangGuard"/> passed first (a hang, never a timing verdict).
    /// </summary>
    internal bool WaitUntilSettled(TimeSpan hangGuard)
    {
        long deadline = Environment.TickCount64 + (long)hangGuard.TotalMilliseconds;
        lock (_gate)
        {
            while (_training || _parkedAt != _changes)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) return false;
                Monitor.Wait(_gate, (int)Math.Min(left, int.MaxValue));
            }
            return true;
        }
    }

    private void Lane()
    {
        while (true)
        {
            int threads;
            int[] lent;
            CancellationToken token;
            lock (_gate)
            {
                while (!_disposed && !(_rollout && _failure is null && IdleCount() > 0))
                {
                    _parkedAt = _changes;
                    Monitor.PulseAll(_gate);           // wakes WaitUntilSettled
                    Monitor.Wait(_gate);
                }
                _parkedAt = -1;
                if (_disposed) return;
                threads = IdleCount();
                token = _stop.Token;
                _training = true;
                for (int w = 0; w < _lent.Length; w++) _lent[w] = _idleSince[w] is not null;
                lent = Enumerable.Range(0, _lent.Length).Where(w => _lent[w]).ToArray();
                _stepStart = _clock.GetTimestamp();
                _stepSeconds = 0;
            }
            bool trained = false;
            try { trained = !token.IsCancellationRequested && _step.Run(threads, token); }
            catch (OperationCanceledException) when (token.IsCancellationRequested) { }
            catch (Exception e)
            {
                // A failing drafter step must never take the process down (this is a background thread) nor
                // touch the policy: record it, pause training until the next rollout, and let metrics say so.
                lock (_gate) _failure = $"{e.GetType().Name}: {e.Message}";
            }
            lock (_gate)
            {
                long end = _clock.GetTimestamp();
                for (int w = 0; w < _lent.Length; w++)
                {
                    if (_lent[w]) _stepSeconds += _clock.GetElapsedTime(_stepStart, end).TotalSeconds;
                    _lent[w] = false;
                }
                if (trained)
                {
                    _trainingSeconds += _stepSeconds;
                    _steps++;
                    _spans.Add(new IdleTrainingSpan(_clock.GetElapsedTime(_phaseStart, _stepStart).TotalSeconds,
                        _clock.GetElapsedTime(_phaseStart, end).TotalSeconds, lent));
                }
                foreach (var at in _reclaimedAt) _maxHandBack = Math.Max(_maxHandBack, _clock.GetElapsedTime(at, end).TotalSeconds);
                _reclaimedAt.Clear();
                _training = false;
                Monitor.PulseAll(_gate);
                // Nothing to train on yet: wait for a state change (or a short real-time poll) instead of spinning.
                if (!trained && !_disposed) Monitor.Wait(_gate, 5);
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _stop.Cancel();
            Changed();
        }
        _lane.Join();
        _stop.Dispose();
    }
}
