// The numbers a report states, computed once so summary.json, report.md and the Quickstart's console
// table agree. Mean step and rollout times leave out the first step when a run has at least three: it
// carries one-off warm-up (JIT, allocator, thread pools) that would otherwise favour whichever run came
// second. Shares and fractions are ratios of sums over the same steps.
using System.Text.Json.Nodes;
using TltTrainer.Telemetry;

namespace TltTrainer.Reporting;

/// <summary>Summary numbers of one run.</summary>
public sealed record RunStatistics
{
    /// <summary>Run name.</summary>
    public required string Name { get; init; }

    /// <summary>Steps in the run.</summary>
    public int Steps { get; init; }

    /// <summary>Leading steps left out of the time means (warm-up).</summary>
    public int WarmupStepsExcluded { get; init; }

    /// <summary>Mean reward of the first and last step, and over all steps.</summary>
    public double RewardFirst { get; init; }

    /// <inheritdoc cref="RewardFirst"/>
    public double RewardLast { get; init; }

    /// <inheritdoc cref="RewardFirst"/>
    public double RewardMean { get; init; }

    /// <summary>Accuracy of the first and last step, when the task reports it.</summary>
    public double? AccuracyFirst { get; init; }

    /// <inheritdoc cref="AccuracyFirst"/>
    public double? AccuracyLast { get; init; }

    /// <summary>Mean seconds per step and per rollout (warm-up excluded).</summary>
    public double StepTimeMean { get; init; }

    /// <inheritdoc cref="StepTimeMean"/>
    public double RolloutTimeMean { get; init; }

    /// <summary>Share of step time spent in rollout (warm-up excluded).</summary>
    public double RolloutShare { get; init; }

    /// <summary>Mean accepted length over steps (1 without speculation).</summary>
    public double AcceptLengthMean { get; init; }

    /// <summary>Share of idle worker-seconds used for drafter training, in [0, 1], or null without online training.</summary>
    public double? IdleUsedFraction { get; init; }

    /// <summary>Drafter work on the step's own thread as a share of step time, or null without online training.</summary>
    public double? DrafterCriticalPathShare { get; init; }

    /// <summary>Greedy held-out accuracy and mean reward of the last evaluation, or null without one.</summary>
    public double? ValidationAccuracyLast { get; init; }

    /// <inheritdoc cref="ValidationAccuracyLast"/>
    public double? ValidationRewardLast { get; init; }

    /// <summary>Seconds spent in held-out evaluations (not part of the step times), or null without any.</summary>
    public double? EvaluationSeconds { get; init; }

    /// <summary>Computes the statistics of <paramref name="run"/>.</summary>
    public static RunStatistics Of(ReportRun run)
    {
        var steps = run.Validate().Steps;
        int skip = steps.Count >= 3 ? 1 : 0;
        var timed = steps.Skip(skip).ToList();
        bool online = steps.Any(s => s.IdleWorkerSeconds is not null);
        double idle = steps.Sum(s => s.IdleWorkerSeconds ?? 0);
        var evaluated = steps.Where(s => s.EvaluationSeconds is not null).ToList();
        return new RunStatistics
        {
            Name = run.Name,
            Steps = steps.Count,
            WarmupStepsExcluded = skip,
            RewardFirst = steps[0].RewardMean,
            RewardLast = steps[^1].RewardMean,
            RewardMean = steps.Average(s => s.RewardMean),
            AccuracyFirst = steps[0].Accuracy,
            AccuracyLast = steps[^1].Accuracy,
            StepTimeMean = timed.Average(s => s.StepSeconds),
            RolloutTimeMean = timed.Average(s => s.RolloutSeconds),
            RolloutShare = timed.Sum(s => s.RolloutSeconds) / Math.Max(timed.Sum(s => s.StepSeconds), 1e-12),
            AcceptLengthMean = steps.Average(s => s.AcceptLength),
            IdleUsedFraction = !online ? null : idle > 0 ? Math.Min(1, steps.Sum(s => s.DrafterTrainSeconds ?? 0) / idle) : 0,   // ≤ 1 by construction (IdleComputeScheduler); the clamp absorbs rounding
            DrafterCriticalPathShare = !online ? null : steps.Sum(s => s.DrafterCriticalSeconds ?? 0) / Math.Max(steps.Sum(s => s.StepSeconds), 1e-12),
            ValidationAccuracyLast = evaluated.LastOrDefault(s => s.ValidationAccuracy is not null)?.ValidationAccuracy,
            ValidationRewardLast = evaluated.LastOrDefault(s => s.ValidationReward is not null)?.ValidationReward,
            EvaluationSeconds = evaluated.Count == 0 ? null : evaluated.Sum(s => s.EvaluationSeconds!.Value),
        };
    }

    /// <summary>The statistics as JSON (snake_case keys, rounded).</summary>
    public JsonObject ToJson() => new()
    {
        ["steps"] = Steps,
        ["warmup_steps_excluded"] = WarmupStepsExcluded,
        ["reward_first"] = Math.Round(RewardFirst, 4),
        ["reward_last"] = Math.Round(RewardLast, 4),
        ["reward_mean"] = Math.Round(RewardMean, 4),
        ["accuracy_first"] = AccuracyFirst is { } a ? Math.Round(a, 4) : null,
        ["accuracy_last"] = AccuracyLast is { } b ? Math.Round(b, 4) : null,
        ["step_time_mean_s"] = Math.Round(StepTimeMean, 3),
        ["rollout_time_mean_s"] = Math.Round(RolloutTimeMean, 3),
        ["rollout_share"] = Math.Round(RolloutShare, 4),
        ["accept_len_mean"] = Math.Round(AcceptLengthMean, 3),
        ["idle_used_fraction"] = IdleUsedFraction is { } i ? Math.Round(i, 4) : null,
        ["drafter_critical_path_share"] = DrafterCriticalPathShare is { } d ? Math.Round(d, 4) : null,
        ["val_accuracy_last"] = ValidationAccuracyLast is { } va ? Math.Round(va, 4) : null,
        ["val_reward_last"] = ValidationRewardLast is { } vr ? Math.Round(vr, 4) : null,
        ["eval_time_total_s"] = EvaluationSeconds is { } e ? Math.Round(e, 3) : null,
    };
}

/// <summary>A baseline run against a candidate (TLT off vs on).</summary>
/// <param name="Baseline">The reference run (TLT off).</param>
/// <param name="Candidate">The compared run (TLT on).</param>
/// <param name="SpeedupEndToEnd">Baseline mean step time ÷ candidate's.</param>
/// <param name="RolloutSpeedup">Baseline mean rollout time ÷ candidate's.</param>
/// <param name="RewardCurveGap">Largest |reward difference| over the steps both ran.</param>
public sealed record RunComparison(RunStatistics Baseline, RunStatistics Candidate, double SpeedupEndToEnd, double RolloutSpeedup, double RewardCurveGap)
{
    /// <summary>Compares two runs.</summary>
    public static RunComparison Of(ReportRun baseline, ReportRun candidate)
    {
        var b = RunStatistics.Of(baseline);
        var c = RunStatistics.Of(candidate);
        double gap = baseline.Steps.Zip(candidate.Steps).Max(p => Math.Abs(p.First.RewardMean - p.Second.RewardMean));
        return new RunComparison(b, c, b.StepTimeMean / c.StepTimeMean, b.RolloutTimeMean / c.RolloutTimeMean, gap);
    }
}
