// The report's PNG charts, drawn with ScottPlot. Each returns null (with the reason) when its data is
// absent, e.g. no run speculated or trained a drafter, so the report skips it instead of drawing an
// empty frame.
using ScottPlot;
using TltTrainer.Telemetry;

namespace TltTrainer.Reporting;

/// <summary>A chart image, or why it was skipped.</summary>
/// <param name="FileName">File name in the report folder.</param>
/// <param name="Title">Caption.</param>
/// <param name="Png">PNG bytes, or null when skipped.</param>
/// <param name="SkipReason">Why it was skipped, or null.</param>
public sealed record ReportChart(string FileName, string Title, byte[]? Png, string? SkipReason);

internal static class ReportCharts
{
    private static readonly Color[] Palette = { Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.Crimson, Colors.Gray };

    public static IReadOnlyList<ReportChart> All(IReadOnlyList<ReportRun> runs, int width, int height) => new[]
    {
        RewardAndAccuracy(runs, width, height),
        ResponseLengths(runs, width, height),
        StepTimeBreakdown(runs, width, height),
        AcceptAndDrafterVersion(runs, width, height),
        IdleTime(runs, width, height),
        ValidationChart.Draw(runs, width, height),
        TimelineChart.Draw(runs, width, height),
    };

    private static ReportChart RewardAndAccuracy(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        var plot = new Plot();
        for (int r = 0; r < runs.Count; r++)
        {
            var steps = runs[r].Steps;
            var x = steps.Select(s => (double)s.Step).ToArray();
            var reward = plot.Add.Scatter(x, steps.Select(s => s.RewardMean).ToArray(), Palette[r % Palette.Length]);
            reward.LegendText = $"{runs[r].Name}: reward";
            if (steps.All(s => s.Accuracy is not null))
            {
                var acc = plot.Add.Scatter(x, steps.Select(s => s.Accuracy!.Value).ToArray(), Palette[r % Palette.Length]);
                acc.LinePattern = LinePattern.Dashed;
                acc.LegendText = $"{runs[r].Name}: accuracy";
            }
        }
        Label(plot, "Reward and accuracy per step", "RL step", "mean reward / accuracy");
        return Done("reward_accuracy.png", "Reward and accuracy per step", plot, width, height);
    }

    private static ReportChart ResponseLengths(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        const string file = "response_lengths.png", title = "Response-length distribution (all steps)";
        var lengths = runs.Select(r => r.Steps.SelectMany(s => s.ResponseLengths ?? Array.Empty<int>()).ToArray()).ToList();
        if (lengths.All(l => l.Length == 0)) return new ReportChart(file, title, null, "no step recorded its response lengths");
        int max = lengths.Max(l => l.Length == 0 ? 0 : l.Max());
        int bins = Math.Clamp(max / 8 + 1, 10, 60);
        double binWidth = Math.Max(1.0, Math.Ceiling((max + 1.0) / bins));
        var plot = new Plot();
        for (int r = 0; r < runs.Count; r++)
        {
            if (lengths[r].Length == 0) continue;
            var counts = new double[bins];
            foreach (var l in lengths[r]) counts[Math.Min(bins - 1, (int)(l / binWidth))]++;
            var bars = plot.Add.Bars(Enumerable.Range(0, bins).Select(b => (b + 0.5) * binWidth + r * binWidth / runs.Count / 2).ToArray(), counts);
            bars.Color = Palette[r % Palette.Length].WithAlpha(0.6);
            foreach (var bar in bars.Bars) bar.Size = binWidth / Math.Max(1, runs.Count);
            bars.LegendText = runs[r].Name;
            var sorted = lengths[r].OrderBy(x => x).ToArray();
            var p90 = plot.Add.VerticalLine(sorted[(int)Math.Round(0.9 * (sorted.Length - 1))], color: Palette[r % Palette.Length]);
            p90.LinePattern = LinePattern.Dotted;
            p90.LegendText = $"{runs[r].Name}: p90";
        }
        Label(plot, title, "response length (tokens)", "responses");
        return Done(file, title, plot, width, height);
    }

    private static ReportChart StepTimeBreakdown(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        var phases = new (string Name, Func<StepMetrics, double> Seconds)[]
        {
            ("rollout", s => s.RolloutSeconds), ("reward", s => s.RewardSeconds), ("old log-probs", s => s.OldLogProbSeconds),
            ("update", s => s.UpdateSeconds),
            ("other", s => Math.Max(0, s.StepSeconds - s.RolloutSeconds - s.RewardSeconds - s.OldLogProbSeconds - s.UpdateSeconds)),
        };
        var plot = new Plot();
        var bars = new List<Bar>();
        for (int r = 0; r < runs.Count; r++)
        {
            var stats = RunStatistics.Of(runs[r]);
            var timed = runs[r].Steps.Skip(stats.WarmupStepsExcluded).ToList();
            double baseValue = 0;
            for (int p = 0; p < phases.Length; p++)
            {
                double mean = timed.Average(phases[p].Seconds);
                bars.Add(new Bar { Position = r, ValueBase = baseValue, Value = baseValue + mean, FillColor = Palette[p % Palette.Length] });
                baseValue += mean;
            }
        }
        plot.Add.Bars(bars);
        for (int p = 0; p < phases.Length; p++) plot.Legend.ManualItems.Add(new LegendItem { LabelText = phases[p].Name, FillColor = Palette[p % Palette.Length] });
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, runs.Count).Select(r => (double)r).ToArray(), runs.Select(r => r.Name).ToArray());
        Label(plot, "Mean step time by phase", "run", "seconds per step");
        plot.Axes.Margins(bottom: 0);
        return Done("step_time_breakdown.png", "Mean step time by phase (warm-up step excluded)", plot, width, height);
    }

    private static ReportChart AcceptAndDrafterVersion(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        const string file = "accept_length.png", title = "Accepted length and drafter version per step";
        var speculative = runs.Where(r => r.Steps.Any(s => s.AcceptLength > 1 || s.DrafterVersion is not null)).ToList();
        if (speculative.Count == 0) return new ReportChart(file, title, null, "no run used speculative decoding");
        var plot = new Plot();
        for (int r = 0; r < speculative.Count; r++)
        {
            var steps = speculative[r].Steps;
            var x = steps.Select(s => (double)s.Step).ToArray();
            var accept = plot.Add.Scatter(x, steps.Select(s => s.AcceptLength).ToArray(), Palette[r % Palette.Length]);
            accept.LegendText = $"{speculative[r].Name}: accepted length";
            if (steps.All(s => s.DrafterVersion is not null))
            {
                var version = plot.Add.Scatter(x, steps.Select(s => (double)s.DrafterVersion!.Value).ToArray(), Palette[(r + 2) % Palette.Length]);
                version.Axes.YAxis = plot.Axes.Right;
                version.LinePattern = LinePattern.Dashed;
                version.LegendText = $"{speculative[r].Name}: drafter version (right)";
            }
        }
        Label(plot, title, "RL step", "mean accepted length");
        plot.Axes.Right.Label.Text = "drafter version";
        double top = speculative.Max(r => r.Steps.Max(s => s.AcceptLength));
        plot.Axes.SetLimitsY(1, Math.Max(2, top * 1.1), plot.Axes.Left);        // 1 = no speculation
        return Done(file, title, plot, width, height);
    }

    private static ReportChart IdleTime(IReadOnlyList<ReportRun> runs, int width, int height)
    {
        const string file = "idle_time.png", title = "Idle worker time and the share used for drafter training";
        var online = runs.FirstOrDefault(r => r.Steps.Any(s => s.IdleWorkerSeconds is not null));
        if (online is null) return new ReportChart(file, title, null, "no run trained the drafter on idle compute");
        var steps = online.Steps;
        var plot = new Plot();
        var x = steps.Select(s => (double)s.Step).ToArray();
        var idle = plot.Add.Bars(x.Select(v => v - 0.2).ToArray(), steps.Select(s => s.IdleWorkerSeconds ?? 0).ToArray());
        idle.Color = Palette[4];
        idle.LegendText = "idle worker-seconds";
        foreach (var bar in idle.Bars) bar.Size = 0.4;
        var used = plot.Add.Bars(x.Select(v => v + 0.2).ToArray(), steps.Select(s => s.DrafterTrainSeconds ?? 0).ToArray());
        used.Color = Palette[2];
        used.LegendText = "of which drafter training";
        foreach (var bar in used.Bars) bar.Size = 0.4;
        Label(plot, $"{title} ({online.Name})", "RL step", "worker-seconds");
        plot.Axes.Margins(bottom: 0);
        return Done(file, title, plot, width, height);
    }

    internal static Color ColorOf(int index) => Palette[index % Palette.Length];

    internal static void Label(Plot plot, string title, string x, string y)
    {
        plot.Axes.Bottom.TickGenerator = plot.Axes.Bottom.TickGenerator is ScottPlot.TickGenerators.NumericManual manual
            ? manual : new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = x == "RL step" };
        plot.Title(title);
        plot.Axes.Bottom.Label.Text = x;
        plot.Axes.Left.Label.Text = y;
        plot.ShowLegend(Alignment.UpperRight);
    }

    internal static ReportChart Done(string file, string title, Plot plot, int width, int height) =>
        new(file, title, plot.GetImageBytes(width, height, ImageFormat.Png), null);
}
