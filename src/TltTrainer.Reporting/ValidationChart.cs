// The held-out evaluation curves: greedy accuracy (val/accuracy) and mean reward (val/reward) at the steps
// that were followed by an evaluation, per run, plus pass@k when it was measured. Skipped when no step
// carries val/ numbers.
using ScottPlot;
using TltTrainer.Telemetry;

namespace TltTrainer.Reporting;

internal static class ValidationChart
{
    public const string FileName = "validation.png", Title = "Held-out evaluation (greedy accuracy and reward)";

    public static ReportChart Draw(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        if (!runs.Any(r => r.Steps.Any(Evaluated))) return new ReportChart(FileName, Title, null, "no step was followed by a held-out evaluation");
        var plot = new Plot();
        for (int r = 0; r < runs.Count; r++)
        {
            var color = ReportCharts.ColorOf(r);
            Curve(plot, runs[r], s => s.ValidationAccuracy, color, LinePattern.Solid, "accuracy");
            Curve(plot, runs[r], s => s.ValidationReward, color, LinePattern.Dashed, "reward");
            Curve(plot, runs[r], s => s.ValidationPassAtK, color, LinePattern.Dotted, "pass@k");
        }
        ReportCharts.Label(plot, Title, "RL step", "held-out accuracy / mean reward");
        double top = runs.SelectMany(r => r.Steps).SelectMany(s => new[] { s.ValidationAccuracy, s.ValidationReward, s.ValidationPassAtK }).Max(v => v ?? 0);
        plot.Axes.SetLimitsY(0, Math.Max(1.05, top * 1.05));                      // accuracies are shares: keep 0 and 1 in view
        return ReportCharts.Done(FileName, Title, plot, width, height);
    }

    private static bool Evaluated(StepMetrics s) => s.ValidationAccuracy is not null || s.ValidationReward is not null;

    private static void Curve(Plot plot, ReportRun run, Func<StepMetrics, double?> value, Color color, LinePattern pattern, string label)
    {
        var points = run.Steps.Where(s => value(s) is not null).ToList();
        if (points.Count == 0) return;
        var line = plot.Add.Scatter(points.Select(s => (double)s.Step).ToArray(), points.Select(s => value(s)!.Value).ToArray(), color);
        line.LinePattern = pattern;
        line.MarkerSize = 7;
        line.LegendText = $"{run.Name}: {label}";
    }
}
