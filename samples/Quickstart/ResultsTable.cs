// The Quickstart's closing table: the report's numbers per run, the off/on comparison, and where the
// report is.
using Spectre.Console;
using TltTrainer.Reporting;

namespace Quickstart;

internal static class ResultsTable
{
    public static void Print(IReadOnlyList<ReportRun> runs, ReportResult report)
    {
        var stats = runs.Select(RunStatistics.Of).ToList();
        var table = new Table().AddColumn("").Title("Results");
        foreach (var s in stats) table.AddColumn(new TableColumn($"TLT {s.Name}").RightAligned());
        void Row(string label, Func<RunStatistics, string> value) => table.AddRow(new[] { label }.Concat(stats.Select(value)).ToArray());
        Row("steps", s => s.Steps.ToString());
        Row("reward first → last", s => $"{s.RewardFirst:F3} → {s.RewardLast:F3}");
        Row("mean step time", s => $"{s.StepTimeMean:F2} s");
        Row("rollout share", s => $"{100 * s.RolloutShare:F1}%");
        Row("mean accepted length", s => $"{s.AcceptLengthMean:F2}");
        Row("idle time used for drafter", s => s.IdleUsedFraction is { } f ? $"{100 * f:F1}%" : "-");
        Row("held-out accuracy (last evaluation)", s => s.ValidationAccuracyLast is { } a ? $"{a:F3}" : "-");
        AnsiConsole.Write(table);
        if (report.Comparison is { } c)
            AnsiConsole.MarkupLine($"End-to-end step speedup TLT on vs off: [bold]{c.SpeedupEndToEnd:F2}x[/] (rollout {c.RolloutSpeedup:F2}x), largest reward gap {c.RewardCurveGap:F3}");
        AnsiConsole.MarkupLine($"Report: [link]{Markup.Escape(Path.GetFullPath(report.ReportPath))}[/]");
    }
}
