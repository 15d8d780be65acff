// One RL step's numbers under stable, slash-separated names (the JSONL keys). Optional fields are null
// when the feature that produces them is off (no KL term, no speculation, no online drafter training,
// no evaluation this step). Every name is described in docs/metrics.md. The per-reward-function means
// have names that depend on the run ("reward/NAME/mean"), so they travel as JSON extension data: flat
// keys on the line, a typed dictionary here.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TltTrainer.Telemetry;

/// <summary>Metrics of one RL step.</summary>
public sealed record StepMetrics
{
    /// <summary>Step index (0-based).</summary>
    [JsonPropertyName("step")] public int Step { get; init; }

    /// <summary>Mean total reward of the step's responses.</summary>
    [JsonPropertyName("reward/mean")] public double RewardMean { get; init; }

    /// <summary>Standard deviation of the total reward.</summary>
    [JsonPropertyName("reward/std")] public double RewardStd { get; init; }

    /// <summary>Share of responses whose answer is correct (the task's verifier), when the task has one.</summary>
    [JsonPropertyName("reward/accuracy")] public double? Accuracy { get; init; }

    /// <summary>Mean response length in tokens.</summary>
    [JsonPropertyName("response/len_mean")] public double ResponseLengthMean { get; init; }

    /// <summary>Median response length.</summary>
    [JsonPropertyName("response/len_p50")] public double ResponseLengthP50 { get; init; }

    /// <summary>90th-percentile response length.</summary>
    [JsonPropertyName("response/len_p90")] public double ResponseLengthP90 { get; init; }

    /// <summary>Longest response.</summary>
    [JsonPropertyName("response/len_max")] public int ResponseLengthMax { get; init; }

    /// <summary>Every response's length in tokens (for the length distribution; the long tail).</summary>
    [JsonPropertyName("response/lengths")] public IReadOnlyList<int>? ResponseLengths { get; init; }

    /// <summary>Share of responses cut at the length limit (the response budget or the context) instead of ending with a stop token, in [0, 1].</summary>
    [JsonPropertyName("response/clipped_ratio")] public double ClippedRatio { get; init; }

    /// <summary>Mean length of the responses that ended with a stop token, or null when none did.</summary>
    [JsonPropertyName("response/len_terminated_mean")] public double? TerminatedLengthMean { get; init; }

    /// <summary>Share of the step's prompt groups whose rewards are all equal (no advantage signal), dynamic sampling's dropped groups included, in [0, 1].</summary>
    [JsonPropertyName("reward/zero_std_groups")] public double ZeroStdGroups { get; init; }

    /// <summary>
    /// Mean unweighted score of each reward function over the step's responses, by function name (<see cref="Rl.IRewardFunction.Name"/>),
    /// or null. Written as flat <c>reward/NAME/mean</c> keys.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, double>? RewardFunctionMeans
    {
        get => _rewardMeans ?? RewardMeanKeys.Parse(_extensionData);
        init => _rewardMeans = value;
    }

    /// <summary>Seconds generating responses.</summary>
    [JsonPropertyName("time/rollout_s")] public double RolloutSeconds { get; init; }

    /// <summary>Seconds computing rewards.</summary>
    [JsonPropertyName("time/reward_s")] public double RewardSeconds { get; init; }

    /// <summary>Seconds recomputing old (and reference) log-probs.</summary>
    [JsonPropertyName("time/old_logprob_s")] public double OldLogProbSeconds { get; init; }

    /// <summary>Seconds in the policy update.</summary>
    [JsonPropertyName("time/update_s")] public double UpdateSeconds { get; init; }

    /// <summary>Wall-clock seconds of the whole step.</summary>
    [JsonPropertyName("time/step_s")] public double StepSeconds { get; init; }

    /// <summary>Generated tokens per second of rollout.</summary>
    [JsonPropertyName("rollout/tokens_per_s")] public double RolloutTokensPerSecond { get; init; }

    /// <summary>Mean accepted length of speculative rounds (1 when plain).</summary>
    [JsonPropertyName("rollout/accept_len")] public double AcceptLength { get; init; }

    /// <summary>Each response's tokens per target forward (its accepted length; 1 when decoded plainly), or null when nothing was drafted this step.</summary>
    [JsonPropertyName("rollout/accept_lens")] public IReadOnlyList<double>? AcceptLengths { get; init; }

    /// <summary>Largest |rollout log-prob − trainer log-prob| over response tokens (on-policy check).</summary>
    [JsonPropertyName("rollout/logprob_gap_max")] public double LogProbGapMax { get; init; }

    /// <summary>Adaptive speculation: decode steps per "bucket:arm" (e.g. "b1-2:eagle/chain-d6"), summed over ranks, or null without it.</summary>
    [JsonPropertyName("rollout/arm_choices")] public IReadOnlyDictionary<string, long>? ArmChoices { get; init; }

    /// <summary>Drafter failures during the rollout ("name.call: error"; the rollout went on plainly; "rank R: ..." under MPI), or null when none.</summary>
    [JsonPropertyName("rollout/drafter_failures")] public IReadOnlyList<string>? DrafterFailures { get; init; }

    /// <summary>Draws redone on the canonical path because they fell within the path tolerance of a decision (see RolloutEngineOptions.PathTolerance).</summary>
    [JsonPropertyName("rollout/canonical_draws")] public long CanonicalDraws { get; init; }

    /// <summary>
    /// The rollout's course per worker (running batch and arm from each point on, seconds from the rollout's start; this rank's
    /// workers under MPI), or null when nothing was decoded. See <see cref="Rollout.TimelinePoint"/>.
    /// </summary>
    [JsonPropertyName("rollout/timeline")] public IReadOnlyList<Rollout.TimelinePoint>? Timeline { get; init; }

    /// <summary>
    /// When idle workers trained the drafter during the rollout (TLT): each step's start and end in seconds since the rollout
    /// phase began (the timeline's origin, to within the few milliseconds before the workers start) and the workers it used;
    /// null without online drafter training.
    /// </summary>
    [JsonPropertyName("rollout/idle_training")] public IReadOnlyList<Drafting.IdleTrainingSpan>? IdleTraining { get; init; }

    /// <summary>Run settings that differ from those of the checkpoint this run resumed from (on the first step after the resume), or null.</summary>
    [JsonPropertyName("run/settings_changed")] public IReadOnlyList<string>? SettingsChanged { get; init; }

    /// <summary>Groups dropped by dynamic sampling (all rewards equal).</summary>
    [JsonPropertyName("rollout/groups_dropped")] public int GroupsDropped { get; init; }

    /// <summary>Mean policy loss over optimizer steps.</summary>
    [JsonPropertyName("update/loss")] public double Loss { get; init; }

    /// <summary>Mean KL to the reference (when a reference is used).</summary>
    [JsonPropertyName("update/kl")] public double? Kl { get; init; }

    /// <summary>Share of tokens whose ratio was clipped.</summary>
    [JsonPropertyName("update/clip_fraction")] public double ClipFraction { get; init; }

    /// <summary>Mean token entropy of the policy on its responses.</summary>
    [JsonPropertyName("update/entropy")] public double Entropy { get; init; }

    /// <summary>Gradient norm before clipping (mean over optimizer steps).</summary>
    [JsonPropertyName("update/grad_norm")] public double GradNorm { get; init; }

    /// <summary>Learning rate of the last optimizer step.</summary>
    [JsonPropertyName("update/lr")] public double LearningRate { get; init; }

    /// <summary>Share of the step's response tokens the update left out because their advantage was 0 (no gradient; see RlTrainerOptions.SkipZeroAdvantageSequences).</summary>
    [JsonPropertyName("update/zero_advantage_token_share")] public double ZeroAdvantageTokenShare { get; init; }

    /// <summary>Optimizer steps skipped because the loss or gradient was not finite.</summary>
    [JsonPropertyName("update/skipped_steps")] public int SkippedSteps { get; init; }

    /// <summary>Ranks of a data-parallel (MPI) run, or null in a single process.</summary>
    [JsonPropertyName("dist/ranks")] public int? Ranks { get; init; }

    /// <summary>Seconds this rank spent in collectives during the step (waiting for slower ranks included), or null in a single process.</summary>
    [JsonPropertyName("time/comm_s")] public double? CommunicationSeconds { get; init; }

    /// <summary>Seconds this rank's rollout ended before the slowest rank's, its workers training the drafter meanwhile (null in a single process or with TLT off).</summary>
    [JsonPropertyName("dist/rank_wait_s")] public double? RankWaitSeconds { get; init; }

    /// <summary>Drafter training steps this rank took while waiting for the slowest rank's rollout (null in a single process or with TLT off).</summary>
    [JsonPropertyName("dist/rank_wait_drafter_steps")] public int? RankWaitDrafterSteps { get; init; }

    /// <summary>Worker-seconds left idle by rollout while others finished the tail (online drafter training).</summary>
    [JsonPropertyName("idle/worker_s")] public double? IdleWorkerSeconds { get; init; }

    /// <summary>Of the idle worker-seconds, those spent training the drafter.</summary>
    [JsonPropertyName("idle/drafter_train_s")] public double? DrafterTrainSeconds { get; init; }

    /// <summary>Drafter training steps run on idle compute this step.</summary>
    [JsonPropertyName("drafter/steps")] public int? DrafterSteps { get; init; }

    /// <summary>Longest time the scheduler took to hand a worker back (seconds).</summary>
    [JsonPropertyName("idle/hand_back_s")] public double? HandBackSeconds { get; init; }

    /// <summary>Seconds of drafter work on the step's critical path (stopping training, publishing, committing, evaluating).</summary>
    [JsonPropertyName("drafter/critical_s")] public double? DrafterCriticalSeconds { get; init; }

    /// <summary>Drafter training loss this step.</summary>
    [JsonPropertyName("drafter/loss")] public double? DrafterLoss { get; init; }

    /// <summary>Drafter top-1 agreement with the target on fresh rollouts.</summary>
    [JsonPropertyName("drafter/top1")] public double? DrafterTop1 { get; init; }

    /// <summary>Drafter version used by this step's rollout.</summary>
    [JsonPropertyName("drafter/version")] public long? DrafterVersion { get; init; }

    /// <summary>Greedy (pass@1) accuracy on the held-out set, when this step was followed by an evaluation that checks answers; else null.</summary>
    [JsonPropertyName("val/accuracy")] public double? ValidationAccuracy { get; init; }

    /// <summary>Mean total reward of the greedy held-out responses, when evaluated; else null.</summary>
    [JsonPropertyName("val/reward")] public double? ValidationReward { get; init; }

    /// <summary>Mean greedy held-out response length in tokens, when evaluated; else null.</summary>
    [JsonPropertyName("val/response_len_mean")] public double? ValidationResponseLengthMean { get; init; }

    /// <summary>Sampled pass@k on the held-out set (k in <see cref="ValidationK"/>), when asked for; else null.</summary>
    [JsonPropertyName("val/pass_at_k")] public double? ValidationPassAtK { get; init; }

    /// <summary>The k of <see cref="ValidationPassAtK"/>, or null.</summary>
    [JsonPropertyName("val/k")] public int? ValidationK { get; init; }

    /// <summary>Greedy held-out accuracy per bucket (e.g. "terms 2-6"), when the examples name buckets; else null.</summary>
    [JsonPropertyName("val/bucket_accuracy")] public IReadOnlyDictionary<string, double>? ValidationBucketAccuracy { get; init; }

    /// <summary>Seconds the evaluation after this step took (not part of <see cref="StepSeconds"/> nor <see cref="RolloutSeconds"/>), or null.</summary>
    [JsonPropertyName("time/eval_s")] public double? EvaluationSeconds { get; init; }

    private readonly IReadOnlyDictionary<string, double>? _rewardMeans;
    private readonly Dictionary<string, JsonElement>? _extensionData;

    // The JSON side of RewardFunctionMeans; other unknown keys (e.g. from a newer version) are kept too. The
    // serializer may fill the dictionary after setting it, so it is kept as given and parsed when read.
    [JsonExtensionData, JsonInclude]
    private Dictionary<string, JsonElement>? ExtensionData
    {
        get => _rewardMeans is null ? _extensionData : RewardMeanKeys.Build(_rewardMeans, _extensionData);
        init => _extensionData = value;
    }
}
