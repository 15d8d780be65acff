// report.md: the run's numbers in a table (and the off/on comparison), then every chart embedded by its
// relative path, or the reason it was skipped.
using System.Globalization;
using System.Text;

namespace TltTrainer.Reporting;

internal static class ReportMarkdown
{
    public static string Build(string title, IReadOnlyList<ReportRun> runs, RunComparison? comparison, IReadOnlyList<ReportChart> charts)
    {
        var stats = runs.Select(RunStatistics.Of).ToList();
        var md = new StringBuilder();
        md.AppendLine($"# {title}").AppendLine();
        md.AppendLine("| | " + string.Join(" | ", stats.Select(s => s.Name)) + " |");
        md.AppendLine("| --- |" + string.Concat(stats.Select(_ => " ---: |")));
        void Row(string label, Func<RunStatistics, string> value) => md.AppendLine($"| {label} | " + string.Join(" | ", stats.Select(value)) + " |");
        Row("RL steps", s => s.Steps.ToString(CultureInfo.InvariantCulture));
        Row("reward, first → last step", s => $"{F(s.RewardFirst, 3)} → {F(s.RewardLast, 3)}");
        Row("accuracy, first → last step", s => s.AccuracyFirst is null ? "–" : $"{F(s.AccuracyFirst.Value, 3)} → {F(s.AccuracyLast!.Value, 3)}");
        Row("mean step time (s)", s => F(s.StepTimeMean, 2));
        Row("mean rollout time (s)", s => F(s.RolloutTimeMean, 2));
        Row("rollout share of the step", s => Pct(s.RolloutShare));
        Row("mean accepted length", s => F(s.AcceptLengthMean, 2));
        Row("idle worker time used for drafter training", s => s.IdleUsedFraction is { } f ? Pct(f) : "–");
        Row("drafter work on the critical path", s => s.DrafterCriticalPathShare is { } f ? Pct(f) : "–");
        Row("held-out accuracy, last evaluation", s => s.ValidationAccuracyLast is { } a ? F(a, 3) : "–");
        Row("held-out reward, last evaluation", s => s.ValidationRewardLast is { } r ? F(r, 3) : "–");
        Row("evaluation time, total (s; not in the step time)", s => s.EvaluationSeconds is { } e ? F(e, 1) : "–");
        md.AppendLine();
        if (stats.Any(s => s.WarmupStepsExcluded > 0))
            md.AppendLine("Step and rollout times leave out each run's first step (one-off warm-up).").AppendLine();
        if (comparison is not null)
        {
            md.AppendLine($"**{comparison.Candidate.Name} vs {comparison.Baseline.Name}**: end-to-end step speedup "
                + $"**{F(comparison.SpeedupEndToEnd, 2)}x**, rollout speedup **{F(comparison.RolloutSpeedup, 2)}x**, largest per-step "
                + $"reward difference {F(comparison.RewardCurveGap, 3)} (same seeds; speculation is lossless, so the curves should agree).");
            md.AppendLine();
        }
        foreach (var chart in charts)
        {
            md.AppendLine($"## {chart.Title}").AppendLine();
            md.AppendLine(chart.Png is null ? $"Skipped: {chart.SkipReason}." : $"![{chart.Title}]({chart.FileName})").AppendLine();
        }
        return md.ToString();
    }

    private static string F(double value, int digits) => value.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Pct(double fraction) => (100 * fraction).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
