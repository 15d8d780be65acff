// The RL loop, one short linear step:
//   prompts → G responses each (RolloutEngine, plain or speculative) → rewards → [dynamic sampling]
//   → advantages → old/reference log-probs (trainer's own forward) → PPO epochs of clipped AdamW steps → metrics.
// Choices are typed plug points in RlTrainerOptions: advantage estimator (GRPO, Dr.GRPO, RLOO), policy
// objective (PPO-clip with clip-higher, dual clip), loss aggregation (token mean, sequence means), KL to
// a frozen reference (k1/k2/k3). The update never consumes the rollout's log-probs; their largest gap
// to the trainer's is reported as an on-policy check. Request seeds derive from (seed, step, request),
// so a resumed run samples exactly what the uninterrupted run would have.
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TltTrainer.Models;
using TltTrainer.Optimization;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using TltTrainer.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TltTrainer.Rl;

/// <summary>Progress of an RL step: the phase and, during rollout, the engine's progress.</summary>
/// <param name="Step">RL step.</param>
/// <param name="Phase">rollout, reward, old_logprob, update.</param>
/// <param name="Rollout">Engine progress while in rollout.</param>
public sealed record RlProgress(int Step, string Phase, RolloutProgress? Rollout);

/// <summary>GRPO-family RL trainer on verifiable rewards.</summary>
public sealed partial class RlTrainer : IDisposable
{
    private readonly CausalLM _policy;
    private readonly CausalLM? _reference;
    private readonly ITextTokenizer _tokenizer;
    private readonly IRolloutGenerator _engine;
    private readonly RewardComposer _rewards;
    private readonly PromptSampler _sampler;
    private readonly RlTrainerOptions _options;
    private readonly RootedAdamW _optimizer;
    private readonly PolicyUpdate _update;
    private readonly IMetricsSink? _sink;
    private readonly ILogger _logger;

    /// <summary>Creates a trainer. The trainer does not own the models, engine or sink.</summary>
    /// <param name="policy">The policy (trained in place); the engine must generate with this same model.</param>
    /// <param name="tokenizer">Encodes prompts (with its default options, e.g. BOS) and decodes responses.</param>
    /// <param name="engine">Rollout engine (or parallel workers) over <paramref name="policy"/>.</param>
    /// <param name="rewards">Reward functions.</param>
    /// <param name="sampler">Prompt source.</param>
    /// <param name="options">Settings.</param>
    /// <param name="reference">Frozen reference for the KL term (required when <see cref="RlTrainerOptions.KlCoefficient"/> &gt; 0).</param>
    /// <param name="sink">Metrics sink.</param>
    /// <param name="logger">Logger.</param>
    public RlTrainer(CausalLM policy, ITextTokenizer tokenizer, IRolloutGenerator engine, RewardComposer rewards, PromptSampler sampler,
        RlTrainerOptions options, CausalLM? reference = null, IMetricsSink? sink = null, ILogger? logger = null)
    {
        _options = options.Validate();
        if (options.KlCoefficient > 0 && reference is null) throw new ArgumentException("KlCoefficient > 0 needs a reference model.", nameof(reference));
        if (tokenizer.VocabularySize > policy.Config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabularySize} tokens but the policy's vocabulary has {policy.Config.VocabSize}: "
                + "they do not belong together (ids past the embedding would fail mid-run).", nameof(tokenizer));
        _policy = policy;
        _reference = reference;
        _tokenizer = tokenizer;
        _engine = engine;
        _rewards = rewards;
        _sampler = sampler;
        _sink = sink;
        _logger = logger ?? NullLogger.Instance;
        _optimizer = new RootedAdamW(policy.parameters(), options.Beta1, options.Beta2, options.WeightDecay) { LearningRate = options.LearningRate };
        _update = new PolicyUpdate(policy, reference, _optimizer, options);
    }

    /// <summary>RL steps completed.</summary>
    public int Step { get; private set; }

    /// <summary>The settings.</summary>
    public RlTrainerOptions Options => _options;

    /// <summary>Correct-answer check for the accuracy metric (e.g. the task's verifier), or null.</summary>
    public Func<string, string?, bool>? AccuracyCheck { get; init; }

    /// <summary>Runs one RL step and returns its metrics (also sent to the sink).</summary>
    /// <exception cref="RewardException">A reward function failed; names the sample.</exception>
    /// <exception cref="PolicyDivergedException">The update left a diverged policy, or the rollout met non-finite logits; the step is not counted.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (between decode steps or phases); the policy is unchanged if before the update.</exception>
    public StepMetrics RunStep(CancellationToken cancellationToken = default, IProgress<RlProgress>? progress = null)
    {
        var stepClock = Stopwatch.StartNew();
        var commBefore = _communicator.CommunicationTime;
        SyncReplicasOnce();
        // Until the update starts, a failed or cancelled step is undone: the prompts it drew go back to the sampler and the
        // drafter returns to its weights at the step's start, so a checkpoint written afterwards holds no trace of it.
        var samplerAtStart = _sampler.State;
        Prepared prepared;
        try { prepared = Prepare(cancellationToken, progress); }
        catch
        {
            _sampler.Restore(samplerAtStart);
            Tlt?.RollBack();
            throw;
        }
        var (batch, rollout, texts, tlt, old, reference, oldSeconds) = prepared;
        using var oldScope = old;
        using var referenceScope = reference;
        bool any = batch.Batch.Count > 0;

        progress?.Report(new RlProgress(Step, "update", null));
        var clock = Stopwatch.StartNew();
        // NaN marks the rows the update leaves out (advantage 0): the gap check skips them.
        using var scored = old is null && any ? full(batch.Batch.Count, batch.Batch.Responses.Max(r => r.Length), float.NaN, device: _policy.Device) : null;
        var stats = _update.Run(batch.Batch, old, reference, Step, scored);
        if (PolicyHealth.Problem(_policy, batch.Batch) is { } problem)
            throw new PolicyDivergedException(Step, $"{problem} (learning rate {_options.LearningRate:g3}, gradient norm {stats.GradNorm:g3})");
        double updateSeconds = clock.Elapsed.TotalSeconds;
        double gap = any ? LogProbGap((old ?? scored)!, batch.RolloutLogProbs) : 0;

        var metrics = Metrics(GlobalView(batch, rollout, texts, gap), oldSeconds, updateSeconds, stats, stepClock.Elapsed.TotalSeconds);
        if (_communicator.Size > 1)
            metrics = metrics with { Ranks = _communicator.Size, CommunicationSeconds = (_communicator.CommunicationTime - commBefore).TotalSeconds };
        if (tlt is not null)
        {
            metrics = metrics with
            {
                IdleWorkerSeconds = tlt.Idle.IdleWorkerSeconds, DrafterTrainSeconds = tlt.Idle.TrainingWorkerSeconds, IdleTraining = tlt.Idle.Spans,
                DrafterLoss = tlt.Fresh?.Loss, DrafterTop1 = tlt.Fresh?.Top1Accuracy, DrafterVersion = tlt.VersionUsed,
                DrafterSteps = tlt.Idle.Steps, RankWaitSeconds = _communicator.Size > 1 ? tlt.RankWaitSeconds : null,
                RankWaitDrafterSteps = _communicator.Size > 1 ? tlt.RankWaitSteps : null, HandBackSeconds = tlt.Idle.MaxHandBackSeconds, DrafterCriticalSeconds = tlt.CriticalSeconds,
            };
            if (tlt.Idle.Failure is not null) LogIdleFailure(_logger, Step, tlt.Idle.Failure);
        }
        metrics = EvaluateIfDue(metrics, cancellationToken);             // after the step's timing: never counted as rollout
        if (_pendingChanges is not null)
        {
            metrics = metrics with { SettingsChanged = _pendingChanges.Select(c => c.ToString()).ToList() };
            _pendingChanges = null;
        }
        if (_communicator.Rank == 0) _sink?.Write(metrics);
        LogStep(_logger, Step, metrics.RewardMean, metrics.StepSeconds);
        Step++;
        return metrics;
    }

    /// <summary>What an RL step has before its update: the rollouts and their rewards, the drafter's phase, old and reference log-probs.</summary>
    private sealed record Prepared(CollectedBatch Batch, RolloutTotals Rollout, IReadOnlyList<ResponseText> Texts,
        OnlineDrafter.PhaseStats? Tlt, Tensor? Old, Tensor? Reference, double OldSeconds);

    /// <summary>The phases of a step before its update (rollout, rewards, old and reference log-probs); cancellable throughout.</summary>
    private Prepared Prepare(CancellationToken cancellationToken, IProgress<RlProgress>? progress)
    {
        Tlt?.BeforeRollout(Step);
        CollectedStep collected;
        try { collected = CollectRollouts(cancellationToken, progress); }
        catch (NonFiniteLogitsException e)
        {
            Tlt?.AbandonRollout();
            throw new PolicyDivergedException(Step, $"the rollout met non-finite logits ({e.Message})", e);
        }
        catch
        {
            // Stop drafter training before anything else runs. No collectives here: this rank may be the only
            // one that failed, and the others are waiting in a different one (RankFailure then ends the job).
            Tlt?.AbandonRollout();
            throw;
        }
        var tlt = Tlt?.AfterRollout(_communicator);                        // drafter training stops before anything else runs
        var (batch, rollout, texts) = (collected.Batch, collected.Totals, collected.Texts);
        if (tlt?.Idle.Failure is { } idleFailure) rollout.DrafterFailures.Add($"idle training: {idleFailure}");   // gathered with the rank under MPI
        cancellationToken.ThrowIfCancellationRequested();

        progress?.Report(new RlProgress(Step, "old_logprob", null));
        var clock = Stopwatch.StartNew();
        // A single-pass update scores the old policy in its own forward, so no separate pass is needed.
        bool any = batch.Batch.Count > 0;   // a rank may hold no sequences (dynamic sampling dropped its groups)
        var old = _update.SinglePass || !any ? null : _update.ScoreAll(_policy, batch.Batch);
        Tensor? reference = null;
        try
        {
            reference = _reference is not null && _options.KlCoefficient > 0 && any ? _update.ScoreAll(_reference, batch.Batch) : null;
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch
        {
            old?.Dispose();
            reference?.Dispose();
            throw;
        }
        return new Prepared(batch, rollout, texts, tlt, old, reference, clock.Elapsed.TotalSeconds);
    }

    private static double LogProbGap(Tensor trainer, IReadOnlyList<float[]> rollout)
    {
        using var onCpu = trainer.cpu();
        var values = onCpu.data<float>().ToArray();
        long width = trainer.shape[1];
        double gap = 0;
        for (int i = 0; i < rollout.Count; i++)
            for (int t = 0; t < rollout[i].Length; t++)
                if (!float.IsNaN(values[i * width + t])) gap = Math.Max(gap, Math.Abs(values[i * width + t] - rollout[i][t]));
        return gap;
    }

    /// <summary>Online drafter training on idle compute (TLT), or null. Its rollout workers must report to its scheduler.</summary>
    public OnlineDrafter? Tlt { get; init; }

    /// <summary>Drafter saved with checkpoints and restored on resume (online drafter training), or null.</summary>
    public Speculative.EagleDraftModel? Drafter { get; init; }

    /// <summary>Writes a checkpoint folder under <paramref name="root"/> (atomically) and returns its path. With several ranks, rank 0 writes and the others wait for it.</summary>
    public string SaveCheckpoint(string root)
    {
        var path = _communicator.Rank == 0
            ? RlCheckpoint.Write(root, new TrainerState(Step, _update.OptimizerSteps, _sampler.State, _options.Seed, Tlt?.CommittedVersion ?? 0, Settings),
                _policy, _optimizer, Drafter)
            : Path.Combine(root, $"step-{Step:D6}");
        _communicator.Barrier();
        return path;
    }

    /// <summary>This run's settings, as checkpoints record them.</summary>
    public RunSettings Settings => _settings ??= new RunSettings(RunSettings.HashPrompts(_sampler.Examples), _sampler.Examples.Count, _options.GroupSize,
        _options.PromptsPerStep, _options.LearningRate, _options.Sampling.Temperature, _options.Sampling.MaxNewTokens, Tlt is not null);

    private RunSettings? _settings;
    private IReadOnlyList<SettingChange>? _pendingChanges;   // accepted setting changes, reported with the next step

    /// <summary>Restores policy, optimizer, drafter, sampler position and step from a checkpoint folder.</summary>
    /// <param name="checkpointDirectory">A complete checkpoint folder.</param>
    /// <param name="allowChangedSettings">
    /// Resume even if the checkpoint was written with other <see cref="Settings"/> (prompt set, group size, prompts per step,
    /// learning rate, temperature, response budget, TLT); the changes are then reported in the next step's metrics
    /// (<see cref="StepMetrics.SettingsChanged"/>). Default false: such a checkpoint is refused before anything is loaded.
    /// </param>
    /// <returns>The settings that differ from the checkpoint's (empty when none, or when the checkpoint predates settings).</returns>
    /// <exception cref="InvalidDataException">The checkpoint was written with a different seed, is incomplete or is malformed (the file is named).</exception>
    /// <exception cref="CheckpointSettingsException">It was written with other settings and <paramref name="allowChangedSettings"/> is false.</exception>
    public IReadOnlyList<SettingChange> LoadCheckpoint(string checkpointDirectory, bool allowChangedSettings = false)
    {
        var saved = RlCheckpoint.ReadState(checkpointDirectory);
        if (saved.Seed != _options.Seed)
            throw new InvalidDataException($"{checkpointDirectory}: written with seed {saved.Seed}, but this trainer uses seed {_options.Seed}.");
        var changes = saved.Settings is null ? Array.Empty<SettingChange>() : Settings.ChangesFrom(saved.Settings);
        if (changes.Count > 0 && !allowChangedSettings) throw new CheckpointSettingsException(checkpointDirectory, changes);
        var state = RlCheckpoint.Read(checkpointDirectory, _policy, _optimizer, Drafter);
        Step = state.Step;
        _update.OptimizerSteps = state.OptimizerSteps;
        _sampler.Restore(state.Sampler);
        Tlt?.ContinueFrom(state.DrafterVersion);                         // drafter versions keep increasing across a resume
        _pendingChanges = changes.Count > 0 ? changes : null;
        return changes;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _optimizer.Dispose();
        _update.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "RL step {Step}: drafter training on idle compute failed and paused until the next rollout: {Error}")]
    private static partial void LogIdleFailure(ILogger logger, int step, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "RL step {Step}: reward {Reward:F3} in {Seconds:F2}s")]
    private static partial void LogStep(ILogger logger, int step, double reward, double seconds);
}
