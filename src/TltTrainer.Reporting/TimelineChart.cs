// The rollout timeline of one RL step, TLT off and on side by side: each worker's running batch over the rollout's
// seconds (it falls as sequences finish, into the long tail), drawn where TLT decoded plainly and, thicker and in the
// arm's colour, where it speculated; below the axis, one bar per run for the spans in which idle workers trained the
// drafter (TLT's use of the tail's idle compute). The step shown is the one whose rollout was longest in the last run (the tail at
// its worst), at the same step in every run; the runs use the same prompts and seeds, so their tails are the same work.
using ScottPlot;
using TltTrainer.Rollout;
using TltTrainer.Telemetry;

namespace TltTrainer.Reporting;

internal static class TimelineChart
{
    public const string FileName = "rollout_timeline.png", Title = "Rollout timeline: running batch per worker, and the arm in use";

    public static ReportChart Draw(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        var last = runs.LastOrDefault(r => r.Steps.Any(s => s.Timeline is { Count: > 0 }));
        if (last is null) return new ReportChart(FileName, Title, null, "no step recorded its rollout timeline");
        int step = last.Steps.Where(s => s.Timeline is { Count: > 0 }).MaxBy(s => s.RolloutSeconds)!.Step;
        var plot = new Plot();
        var arms = runs.SelectMany(r => r.Steps.Where(s => s.Step == step).SelectMany(s => s.Timeline ?? Array.Empty<TimelinePoint>()))
            .Select(p => p.Arm).Where(a => a is not ("plain" or "end")).Distinct().Order(StringComparer.Ordinal).ToList();
        for (int r = 0; r < runs.Count; r++)
        {
            var metrics = runs[r].Steps.FirstOrDefault(s => s.Step == step && s.Timeline is { Count: > 0 });
            if (metrics is null) continue;
            foreach (var worker in metrics.Timeline!.GroupBy(p => p.Worker).OrderBy(g => g.Key))
            {
                var points = worker.OrderBy(p => p.Seconds).ToList();
                Staircase(plot, points, p => true, ReportCharts.ColorOf(r), r == runs.Count - 1 ? LinePattern.Solid : LinePattern.Dashed, 1.5f,
                    $"{runs[r].Name}, worker {worker.Key}");
                foreach (var arm in arms)
                    Staircase(plot, points, p => p.Arm == arm, ReportCharts.ColorOf(2 + arms.IndexOf(arm)), LinePattern.Solid, 5f,
                        worker.Key == 0 ? $"{runs[r].Name}: {arm}" : null);
            }
            IdleTraining(plot, metrics.IdleTraining, y: -(r + 1) * SpanRowHeight, ReportCharts.ColorOf(r), $"{runs[r].Name}: drafter training on idle workers");
        }
        ReportCharts.Label(plot, $"{Title} (step {step})", "seconds into the rollout", "running batch (bars below 0: idle-worker drafter training)");
        return ReportCharts.Done(FileName, Title, plot, width, height);
    }

    /// <summary>Height of one run's row of idle-training bars below the axis, in running-batch units.</summary>
    private const double SpanRowHeight = 0.8;

    /// <summary>Draws each idle-training step as a thick bar at height <paramref name="y"/>.</summary>
    private static void IdleTraining(Plot plot, IReadOnlyList<Drafting.IdleTrainingSpan>? spans, double y, Color color, string label)
    {
        bool labelled = false;
        foreach (var span in spans ?? Array.Empty<Drafting.IdleTrainingSpan>())
        {
            var bar = plot.Add.Line(span.Start, y, span.End, y);
            bar.Color = color;
            bar.LineWidth = 7;
            if (!labelled) { bar.LegendText = label; labelled = true; }
        }
    }

    /// <summary>Draws the running batch as a staircase over the intervals whose point satisfies <paramref name="include"/>.</summary>
    private static void Staircase(Plot plot, IReadOnlyList<TimelinePoint> points, Func<TimelinePoint, bool> include, Color color, LinePattern pattern,
        float width, string? label)
    {
        bool labelled = false;
        for (int i = 0; i + 1 < points.Count; i++)
        {
            if (!include(points[i])) continue;
            var line = plot.Add.Line(points[i].Seconds, points[i].RunningBatch, points[i + 1].Seconds, points[i].RunningBatch);
            line.Color = color;
            line.LineWidth = width;
            line.LinePattern = pattern;
            if (label is not null && !labelled) { line.LegendText = label; labelled = true; }
        }
    }
}
