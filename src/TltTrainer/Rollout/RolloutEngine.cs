// Batched generation with continuous batching and optional exact speculative decoding.
//
// Contract: Generate(requests) returns one Trajectory per request, in request order. Each sequence
// is decoded exactly as plain sampling from the target would (greedy: identical tokens; sampled:
// identical distribution), whatever the drafter proposes. The running batch is at most
// MaxRunningBatch rows; finished rows leave at once (the last row moves into the hole) and waiting
// requests join with a batched prefill, so the batch shrinks into the long tail. Per-row invariant:
// the target's KV cache holds every token but the last, which is sampled and not yet fed.
using System.Diagnostics;
using System.Runtime.InteropServices;
using TltTrainer.Models;
using TltTrainer.Speculative;
using static TorchSharp.torch;

namespace TltTrainer.Rollout;

/// <summary>Generates responses for many requests with the target model, optionally with speculative decoding.</summary>
public sealed class RolloutEngine : IRolloutGenerator
{
    private readonly CausalLM _target;
    private readonly RolloutEngineOptions _options;
    private readonly Microsoft.Extensions.Logging.ILogger _logger;

    /// <summary>Creates an engine over <paramref name="target"/>; the engine does not own the model.</summary>
    public RolloutEngine(CausalLM target, RolloutEngineOptions? options = null)
    {
        _target = target;
        _options = (options ?? new RolloutEngineOptions()).Validate();
        _logger = _options.Logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>The engine's settings.</summary>
    public RolloutEngineOptions Options => _options;

    /// <inheritdoc />
    public int SequenceCapacity => _options.MaxSequenceLength > 0 ? _options.MaxSequenceLength : _target.Config.MaxPositions;

    /// <summary>Generates a response for every request; returns them in request order.</summary>
    /// <exception cref="ArgumentException">A request is empty, or its prompt does not leave room for one new token.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked between decode steps).</exception>
    public RolloutResult Generate(IReadOnlyList<RolloutRequest> requests, CancellationToken cancellationToken = default,
        IProgress<RolloutProgress>? progress = null)
    {
        int capacity = _options.MaxSequenceLength > 0 ? _options.MaxSequenceLength : _target.Config.MaxPositions;
        foreach (var r in requests) ValidateRequest(r, capacity);
        var metrics = new RolloutMetrics();
        var total = Stopwatch.StartNew();
        var results = new Trajectory[requests.Count];
        if (requests.Count == 0) return new RolloutResult(results, metrics);

        int rows = Math.Min(_options.MaxRunningBatch, requests.Count);
        using var noGrad = no_grad();
        using var cache = new KvCache(_target.Config, rows, capacity, _target.DType, _target.Device);
        var adaptive = _options.Adaptive;
        var drafters = (adaptive?.Options.Arms.Select(a => a.Drafter) ?? new[] { _options.Drafter })
            .OfType<IDrafter>().Distinct().ToList();
        var batch = new DecodeBatch(_target, cache, drafters, _options.HiddenStateSink, capacity, metrics, _logger, _options.TreeVerification,
            _options.PathTolerance ?? DefaultPathTolerance(_target.DType), _options.PerturbBatchedLogits);
        adaptive?.ResetStreak();
        int next = 0, finished = 0;
        while (finished < requests.Count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (batch.Count < rows && next < requests.Count)
            {
                int admit = Math.Min(rows - batch.Count, requests.Count - next);
                foreach (var chunk in PrefillChunks(Enumerable.Range(next, admit).Select(i => new RunningSequence(i, requests[i])).ToList()))
                    batch.Admit(chunk);
                next += admit;
            }
            else
            {
                double stepStart = total.Elapsed.TotalSeconds;
                string arm = Step(batch, adaptive, metrics);
                var previous = metrics.Timeline.Count == 0 ? null : metrics.Timeline[^1];
                if (previous is null || previous.RunningBatch != batch.Count || previous.Arm != arm)
                    metrics.Timeline.Add(new TimelinePoint(0, stepStart, batch.Count, arm));
            }
            foreach (var done in batch.Retire())
            {
                results[done.Order] = done.ToTrajectory();
                finished++;
            }
            progress?.Report(new RolloutProgress(finished, requests.Count, batch.Count, metrics.GeneratedTokens, metrics.MeanAcceptLength));
        }
        metrics.TotalSeconds = total.Elapsed.TotalSeconds;
        metrics.Timeline.Add(new TimelinePoint(0, metrics.TotalSeconds, 0, "end"));
        return new RolloutResult(results, metrics);
    }

    /// <summary>The path tolerance used when <see cref="RolloutEngineOptions.PathTolerance"/> is null: 1e-4 for float32 (and float64) models, else 0.</summary>
    public static double DefaultPathTolerance(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.Float64 ? 1e-4 : 0;

    /// <summary>Newcomers sorted by prompt length (longest first), cut so that rows × longest stays within <see cref="RolloutEngineOptions.PrefillTokens"/>.</summary>
    private IEnumerable<List<RunningSequence>> PrefillChunks(IReadOnlyList<RunningSequence> newcomers) =>
        MicroBatchPlan.Plan(Enumerable.Range(0, newcomers.Count).ToArray(), i => newcomers[i].PromptLength, int.MaxValue, _options.PrefillTokens)
            .Select(chunk => chunk.Select(i => newcomers[i]).ToList());

    /// <summary>One decode step: plain, fixed speculation, or the adaptive policy's choice (whose throughput it then records).</summary>
    /// <returns>The arm's name, "plain" for a plain step.</returns>
    private string Step(DecodeBatch batch, AdaptiveSpeculation? adaptive, RolloutMetrics metrics)
    {
        int running = batch.Count;
        if (adaptive is null)
        {
            var drafter = _options.Drafter;
            if (drafter is not null && batch.IsUsable(drafter) && running <= _options.SpeculateAtOrBelowBatch)
            {
                batch.SpeculativeStep(drafter, _options.Strategy);
                return $"{drafter.Name}/{_options.Strategy}";
            }
            batch.PlainStep();
            return "plain";
        }
        var (arm, fromBandit) = adaptive.Choose(running);
        if (arm.Drafter is not null && !batch.IsUsable(arm.Drafter)) (arm, fromBandit) = (SpeculationArm.None, false);
        long before = metrics.GeneratedTokens;
        var clock = adaptive.Options.Clock;                 // injected: tests score arms on a fake clock
        long start = clock.GetTimestamp();
        if (arm.Drafter is null) batch.PlainStep();
        else batch.SpeculativeStep(arm.Drafter, arm.Strategy!);
        // Reward per running sequence: within a bucket the batch keeps shrinking through the tail, and raw
        // tokens/s would credit whichever arm happened to be measured at the larger batch (plain decoding,
        // tried first) instead of the faster one.
        double seconds = clock.GetElapsedTime(start).TotalSeconds;
        if (fromBandit) adaptive.Record(running, arm, (metrics.GeneratedTokens - before) / Math.Max(seconds, 1e-9) / running);
        var key = $"{adaptive.BucketName(running)}:{arm.Name}";
        metrics.ArmChoices[key] = metrics.ArmChoices.GetValueOrDefault(key) + 1;
        return arm.Drafter is null ? "plain" : arm.Name;
    }

    private void ValidateRequest(RolloutRequest request, int capacity)
    {
        request.Sampling.Validate();
        if (request.PromptTokens.Count == 0) throw new ArgumentException($"request {request.Id}: the prompt is empty.");
        if (request.PromptTokens.Count >= capacity)
            throw new ArgumentException($"request {request.Id}: prompt of {request.PromptTokens.Count} tokens leaves no room in a context of {capacity} tokens.");
        int vocab = _target.Config.VocabSize;
        foreach (var t in request.PromptTokens)
            if (t < 0 || t >= vocab) throw new ArgumentException($"request {request.Id}: prompt token id {t} is outside the model's vocabulary [0, {vocab}).");
    }

}

/// <summary>Trajectories in request order, and the call's metrics.</summary>
/// <param name="Trajectories">One per request, in request order.</param>
/// <param name="Metrics">Counters and timings.</param>
public sealed record RolloutResult(IReadOnlyList<Trajectory> Trajectories, RolloutMetrics Metrics);
