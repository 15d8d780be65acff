// Writes a run report folder: metrics-<run>.jsonl (one StepMetrics per line), summary.json (the numbers,
// and the off/on comparison when there are two runs), the PNG charts and report.md embedding them.
// Every file is written atomically (temp + rename), so an interrupted report never leaves a torn file;
// charts whose data is absent are skipped and report.md says why.
using System.Text.Json;
using System.Text.Json.Nodes;
using TltTrainer.IO;

namespace TltTrainer.Reporting;

/// <summary>Settings of <see cref="RunReport.Write"/>.</summary>
public sealed record ReportOptions
{
    /// <summary>Chart width in pixels. Default 900.</summary>
    public int ChartWidth { get; init; } = 900;

    /// <summary>Chart height in pixels. Default 500.</summary>
    public int ChartHeight { get; init; } = 500;

    /// <summary>Heading of report.md. Default "TltTrainer run report".</summary>
    public string Title { get; init; } = "TltTrainer run report";

    /// <summary>Extra fields merged into summary.json (e.g. the run's settings), or null.</summary>
    public JsonObject? Extra { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public ReportOptions Validate()
    {
        if (ChartWidth is < 200 or > 4000) throw new ArgumentException($"ChartWidth = {ChartWidth} must lie in [200, 4000].");
        if (ChartHeight is < 150 or > 4000) throw new ArgumentException($"ChartHeight = {ChartHeight} must lie in [150, 4000].");
        return this;
    }
}

/// <summary>What <see cref="RunReport.Write"/> produced.</summary>
/// <param name="SummaryPath">summary.json.</param>
/// <param name="ReportPath">report.md.</param>
/// <param name="Charts">Every chart, drawn or skipped (with its reason).</param>
/// <param name="Summary">The content of summary.json.</param>
/// <param name="Comparison">The off/on comparison when two runs were given, else null.</param>
public sealed record ReportResult(string SummaryPath, string ReportPath, IReadOnlyList<ReportChart> Charts, JsonObject Summary, RunComparison? Comparison);

/// <summary>Writes run reports.</summary>
public static class RunReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes the report of one run, or of a baseline and a candidate (TLT off, then on), into <paramref name="directory"/>.</summary>
    /// <param name="directory">Output folder (created if missing).</param>
    /// <param name="runs">One or two runs; with two, the first is the baseline.</param>
    /// <param name="options">Settings.</param>
    /// <exception cref="ArgumentException">No runs, more than two, a run without steps, or names that clash.</exception>
    public static ReportResult Write(string directory, IReadOnlyList<ReportRun> runs, ReportOptions? options = null)
    {
        var o = (options ?? new ReportOptions()).Validate();
        if (runs is null || runs.Count is 0 or > 2) throw new ArgumentException($"a report needs one run or two (baseline, candidate), not {runs?.Count ?? 0}.", nameof(runs));
        foreach (var run in runs) run.Validate();
        if (runs.Count == 2 && runs[0].Name == runs[1].Name) throw new ArgumentException($"both runs are named '{runs[0].Name}'; the names label files and charts.", nameof(runs));
        Directory.CreateDirectory(directory);

        foreach (var run in runs)
            AtomicFile.WriteAllText(Path.Combine(directory, $"metrics-{run.Name}.jsonl"),
                string.Concat(run.Steps.Select(s => JsonSerializer.Serialize(s) + "\n")));

        var comparison = runs.Count == 2 ? RunComparison.Of(runs[0], runs[1]) : null;
        var summary = Summary(runs, comparison, o.Extra);
        var summaryPath = Path.Combine(directory, "summary.json");
        AtomicFile.WriteAllText(summaryPath, summary.ToJsonString(Indented));

        var charts = ReportCharts.All(runs, o.ChartWidth, o.ChartHeight);
        foreach (var chart in charts.Where(c => c.Png is not null))
            AtomicFile.Write(Path.Combine(directory, chart.FileName), stream => stream.Write(chart.Png));

        var reportPath = Path.Combine(directory, "report.md");
        AtomicFile.WriteAllText(reportPath, ReportMarkdown.Build(o.Title, runs, comparison, charts));
        return new ReportResult(summaryPath, reportPath, charts, summary, comparison);
    }

    private static JsonObject Summary(IReadOnlyList<ReportRun> runs, RunComparison? comparison, JsonObject? extra)
    {
        var main = runs[^1];
        var json = new JsonObject
        {
            ["steps"] = JsonNode.Parse(JsonSerializer.Serialize(main.Steps)),
            ["summary"] = RunStatistics.Of(main).ToJson(),
        };
        foreach (var run in runs) json[run.Name] = RunStatistics.Of(run).ToJson();
        if (comparison is not null)
        {
            json["steps_off"] = JsonNode.Parse(JsonSerializer.Serialize(runs[0].Steps));    // the baseline's steps, beside the candidate's "steps"
            json["speedup_end_to_end"] = Math.Round(comparison.SpeedupEndToEnd, 3);
            json["rollout_speedup"] = Math.Round(comparison.RolloutSpeedup, 3);
            json["reward_curve_gap"] = Math.Round(comparison.RewardCurveGap, 4);
            json["accept_len_by_step"] = new JsonArray(main.Steps.Select(s => (JsonNode)Math.Round(s.AcceptLength, 3)).ToArray());
            json["idle_used_fraction"] = comparison.Candidate.IdleUsedFraction is { } i ? Math.Round(i, 4) : null;
            json["drafter_critical_path_share"] = comparison.Candidate.DrafterCriticalPathShare is { } d ? Math.Round(d, 4) : null;
        }
        if (extra is not null)
            foreach (var (key, value) in extra) json[key] = value?.DeepClone();
        return json;
    }
}
