// Online drafter training: the step the idle-compute scheduler runs on idle workers. Each step draws a
// few recent windows from the hidden-state buffer (copied out under its lock, so the rollout's capture
// never waits for training), trains the drafter once with the threads the scheduler lends, and every
// few steps publishes a new snapshot for the rollout engines to pick up between speculation rounds.
using TltTrainer.Distributed;
using TltTrainer.Models;
using TltTrainer.Speculative;
using TorchSharp;

namespace TltTrainer.Drafting;

/// <summary>Settings of online drafter training.</summary>
public sealed record OnlineDrafterOptions
{
    /// <summary>Windows per training step. Default 8.</summary>
    public int WindowsPerStep { get; init; } = 8;

    /// <summary>Pairs per packed row. Default 256.</summary>
    public int RowLength { get; init; } = 256;

    /// <summary>Publish a snapshot every this many steps (and at the end of each rollout). Default 10.</summary>
    public int PublishEverySteps { get; init; } = 10;

    /// <summary>Optimizer settings. Default the TLT recipe with learning rate 3e-4.</summary>
    public DrafterTrainingOptions Training { get; init; } = new() { LearningRate = 3e-4, WarmupSteps = 0 };

    /// <summary>
    /// Longest context recomputed for a window: the rollout hands the buffer hidden states from the prompt's last position on,
    /// but a serving drafter attends to the whole prompt (the chain task's scratchpad copies its terms from there), so a window
    /// whose context (prompt, and any response cut off before it) is at most this long gets that context's hidden states from
    /// one forward of the target on idle compute, never on the rollout's path; windows with longer contexts train without it.
    /// 0 = never. Default 256 (issue 14: accepted length after 1, 2, 3 RL steps' budget 3.47, 3.55, 3.60 without, 3.57, 3.67,
    /// 3.71 with, on SpecBench --adaptation's large shift).
    /// </summary>
    public int ContextTokens { get; init; } = 256;

    /// <summary>
    /// Restart the learning-rate schedule (<see cref="DrafterTrainingOptions.WarmupSteps"/>, then <see cref="DrafterTrainingOptions.DecaySteps"/>)
    /// at every rollout (<see cref="OnlineDrafterTraining.BeginPhase"/>): a warm restart per RL step, whose new data starts at the peak. Default false.
    /// </summary>
    public bool RestartEachRollout { get; init; }

    /// <summary>Seed of the window sampling. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public OnlineDrafterOptions Validate()
    {
        if (WindowsPerStep < 1) throw new ArgumentException($"WindowsPerStep = {WindowsPerStep} must be ≥ 1.");
        if (RowLength < 2) throw new ArgumentException($"RowLength = {RowLength} must be ≥ 2.");
        if (PublishEverySteps < 1) throw new ArgumentException($"PublishEverySteps = {PublishEverySteps} must be ≥ 1.");
        Training.Validate();
        return this;
    }
}

/// <summary>Trains the drafter from the hidden-state buffer, one bounded step at a time, and publishes it.</summary>
public sealed class OnlineDrafterTraining : IIdleTrainingStep, IDisposable
{
    private readonly CausalLM _target;
    private readonly EagleDraftModel _model;
    private readonly HiddenStateBuffer _buffer;
    private readonly DrafterPublisher _publisher;
    private readonly OnlineDrafterOptions _options;
    private readonly DrafterTrainer _trainer;
    private readonly Random _random;
    private readonly object _gate = new();
    private int _sincePublish;

    /// <summary>Creates the trainer of <paramref name="model"/> (the training copy; rollouts serve published snapshots).</summary>
    public OnlineDrafterTraining(CausalLM target, EagleDraftModel model, HiddenStateBuffer buffer, DrafterPublisher publisher, OnlineDrafterOptions? options = null)
    {
        _options = (options ?? new OnlineDrafterOptions()).Validate();
        _target = target;
        _model = model;
        _buffer = buffer;
        _publisher = publisher;
        _trainer = new DrafterTrainer(target, model, _options.Training);
        _random = new Random(_options.Seed);
    }

    /// <summary>Steps taken so far.</summary>
    public int Steps => _trainer.Steps;

    /// <summary>Loss of the last step, or null.</summary>
    public DrafterStepResult? LastStep { get; private set; }

    /// <inheritdoc />
    public bool Run(int threads, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int previous = torch.get_num_threads();
            torch.set_num_threads(threads);
            try
            {
                using var batch = NextBatch();
                if (batch is null) return false;
                LastStep = _trainer.TrainStep(batch);
            }
            finally { torch.set_num_threads(previous); }
            if (++_sincePublish >= _options.PublishEverySteps) Publish();
            return true;
        }
    }

    private DrafterBatch? NextBatch()
    {
        if (_options.ContextTokens == 0)
            return _buffer.UseSample(_options.WindowsPerStep, _random,
                windows => windows.Count == 0 ? null : DrafterBatch.Create(windows, _options.RowLength, pack: true, _target.Device));
        // Completing under the buffer's lock would make the rollout's capture wait for a target forward: copy the windows out
        // first (a context limit of 0 only copies), then complete them outside the lock.
        var examples = _buffer.UseSample(_options.WindowsPerStep, _random, windows => WindowContext.Complete(_target, windows, 0));
        if (examples.Count == 0) return null;
        List<DrafterExample>? completed = null;
        try
        {
            completed = WindowContext.Complete(_target, examples, _options.ContextTokens);
            return DrafterBatch.Create(completed, _options.RowLength, pack: true, _target.Device);
        }
        finally
        {
            foreach (var e in examples.Concat(completed ?? new())) e.Dispose();
        }
    }

    /// <summary>Loss and top-1 agreement on windows of the newest step (fresh rollouts), without training.</summary>
    public DrafterStepResult? EvaluateRecent(int windows = 32)
    {
        lock (_gate)
        {
            using var batch = _buffer.UseSample(windows, new Random(0), w => w.Count == 0 ? null : DrafterBatch.Create(w, _options.RowLength, pack: true, _target.Device));
            return batch is null ? null : _trainer.Evaluate(batch);
        }
    }

    /// <summary>A rollout phase begins (new data is coming): restarts the learning-rate schedule if <see cref="OnlineDrafterOptions.RestartEachRollout"/>.</summary>
    public void BeginPhase()
    {
        lock (_gate) if (_options.RestartEachRollout) _trainer.RestartSchedule();
    }

    /// <summary>Version of the newest published snapshot (0 = none).</summary>
    public long PublishedVersion => _publisher.LatestVersion;

    /// <summary>Leases the newest published snapshot (dispose the lease when done).</summary>
    public DrafterLease AcquireLatest() => _publisher.Acquire();

    /// <summary>Copies <paramref name="snapshot"/>'s weights into the training drafter (between training steps).</summary>
    public void Restore(DrafterSnapshot snapshot)
    {
        lock (_gate) _model.CopyFrom(snapshot.Weights, $"drafter snapshot v{snapshot.Version}");
    }

    /// <summary>Continues snapshot versions after <paramref name="version"/> (resume from a checkpoint).</summary>
    public void ContinueVersionsFrom(long version) => _publisher.ContinueFrom(version);

    /// <summary>Publishes the current weights now (e.g. at the end of a rollout); returns the version.</summary>
    public long Publish()
    {
        lock (_gate)
        {
            _sincePublish = 0;
            return _publisher.Publish(_model);
        }
    }

    /// <summary>
    /// Makes the drafter one across ranks and publishes it: every rank's copy (each trained on its own shard
    /// since the last call) is replaced by the mean of the copies weighted by <paramref name="stepsSinceShare"/>,
    /// then rank 0's result is broadcast so the copies are bit-identical. Optimizer moments stay per rank.
    /// Every rank must call it, in the same order as its other collectives. Returns the published version.
    /// </summary>
    public long ShareAcrossRanks(ICommunicator ranks, int stepsSinceShare)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepsSinceShare);
        lock (_gate)
        {
            if (ranks.Size > 1)
            {
                double total = ranks.AllReduceSum(stepsSinceShare);
                using (torch.no_grad())
                {
                    if (total > 0)
                        foreach (var (_, parameter) in _model.named_parameters())
                        {
                            parameter.mul_(stepsSinceShare / total);
                            ranks.AllReduce(parameter);
                        }
                }
                ranks.Broadcast(_model, 0);   // reduction order may differ per rank: rank 0's sum is the one
            }
            _sincePublish = 0;
            return _publisher.Publish(_model);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _trainer.Dispose();
}
