using System.Buffers.Binary;
using System.Text.Json.Nodes;
using TltTrainer.Reporting;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Reporting;

public sealed class RunReportTests
{
    private static readonly byte[] PngSignature = { 137, 80, 78, 71, 13, 10, 26, 10 };

    /// <summary>A synthetic run: TLT runs have faster rollouts, accepted lengths, drafter versions and idle time.</summary>
    /// <summary>Evaluated after steps 2 and 4 (indices 1 and 3) and the last, when <paramref name="evaluated"/>.</summary>
    private static ReportRun Run(string name, bool tlt, int steps = 5, bool evaluated = true, bool spans = true) => new(name, Enumerable.Range(0, steps).Select(s => new StepMetrics
    {
        Step = s,
        RewardMean = 0.5 + 0.05 * s,
        Accuracy = 0.4 + 0.05 * s,
        ResponseLengths = Enumerable.Range(0, 32).Select(i => 10 + i % 7 + (i == 31 ? 300 + 10 * s : 0)).ToArray(),
        RolloutSeconds = tlt ? 2.0 + 0.1 * s : 4.0 + 0.1 * s,
        RewardSeconds = 0.05,
        OldLogProbSeconds = 0,
        UpdateSeconds = 1.0,
        StepSeconds = (tlt ? 2.0 : 4.0) + 0.1 * s + 1.05 + 0.02,
        AcceptLength = tlt ? 3.0 + 0.1 * s : 1.0,
        DrafterVersion = tlt ? s + 1 : null,
        IdleWorkerSeconds = tlt ? 1.0 : null,
        DrafterTrainSeconds = tlt ? 0.9 : null,
        DrafterCriticalSeconds = tlt ? 0.01 : null,
        ValidationAccuracy = evaluated && (s % 2 == 1 || s == steps - 1) ? 0.3 + 0.1 * s : null,
        ValidationReward = evaluated && (s % 2 == 1 || s == steps - 1) ? 0.35 + 0.1 * s : null,
        EvaluationSeconds = evaluated && (s % 2 == 1 || s == steps - 1) ? 1.5 : null,
        Timeline = Timeline(tlt, s),
        IdleTraining = tlt && spans ? new[] { new TltTrainer.Drafting.IdleTrainingSpan(0.9, 1.4, new[] { 1 }), new(1.4, 2.3, new[] { 0, 1 }) } : null,
    }).ToList());

    /// <summary>Two workers whose running batch falls into a tail, which TLT runs speculate through.</summary>
    private static IReadOnlyList<TltTrainer.Rollout.TimelinePoint> Timeline(bool tlt, int step) => Enumerable.Range(0, 2).SelectMany(w => new[]
    {
        new TltTrainer.Rollout.TimelinePoint(w, 0.0, 8, "plain"), new(w, 0.8, 4, "plain"),
        new(w, 1.2, 2, tlt ? "eagle/chain-d6" : "plain"), new(w, 1.6 + 0.1 * step, 1, tlt ? "ngram/chain-d8" : "plain"), new(w, 2.5 + 0.2 * w, 0, "end"),
    }).ToList();

    private static (int Width, int Height) PngSize(byte[] png)
    {
        Assert.Equal(PngSignature, png.Take(8));
        return (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4)));
    }

    [Fact]
    public void Timeline_IdleTrainingSpans_AreWrittenToTheMetricsAndDrawn()
    {
        using var dir = new TempDirectory();
        var on = Run("on", tlt: true);
        var result = RunReport.Write(dir.Path, new[] { Run("off", tlt: false), on }, new ReportOptions { ChartWidth = 640, ChartHeight = 360 });
        var line = JsonNode.Parse(File.ReadAllLines(Path.Combine(dir.Path, "metrics-on.jsonl"))[0])!;
        var spans = line["rollout/idle_training"]!.AsArray();
        Assert.Equal(2, spans.Count);
        Assert.Equal((1.4, 2.3), (spans[1]!["start"]!.GetValue<double>(), spans[1]!["end"]!.GetValue<double>()));
        Assert.Equal(new[] { 0, 1 }, spans[1]!["workers"]!.AsArray().Select(w => w!.GetValue<int>()));

        var without = RunReport.Write(Path.Combine(dir.Path, "without"), new[] { Run("off", tlt: false), Run("on", tlt: true, spans: false) },
            new ReportOptions { ChartWidth = 640, ChartHeight = 360 });
        byte[] Timeline(ReportResult r) => r.Charts.Single(c => c.FileName == "rollout_timeline.png").Png!;
        Assert.NotEqual(Timeline(without), Timeline(result));   // the spans change the picture
    }

    [Fact]
    public void Write_OffAndOn_WritesEveryFileWithIndependentlyComputedNumbers()
    {
        using var dir = new TempDirectory();
        var off = Run("off", tlt: false);
        var on = Run("on", tlt: true);
        var result = RunReport.Write(dir.Path, new[] { off, on }, new ReportOptions { ChartWidth = 640, ChartHeight = 360 });

        foreach (var file in new[] { "metrics-off.jsonl", "metrics-on.jsonl", "summary.json", "report.md" })
            Assert.True(File.Exists(Path.Combine(dir.Path, file)), $"{file} missing");
        Assert.Equal(5, File.ReadAllLines(Path.Combine(dir.Path, "metrics-on.jsonl")).Length);
        Assert.Equal(7, result.Charts.Count);
        foreach (var chart in result.Charts)
        {
            Assert.NotNull(chart.Png);
            var png = File.ReadAllBytes(Path.Combine(dir.Path, chart.FileName));
            Assert.Equal((640, 360), PngSize(png));
            Assert.True(png.Length > 8000, $"{chart.FileName} is {png.Length} bytes: nearly blank");
        }

        // Step times without the warm-up step 0: off 4.0+0.1s+1.07, on 2.0+0.1s+1.07 for s = 1..4.
        double offMean = Enumerable.Range(1, 4).Average(s => 4.0 + 0.1 * s + 1.07), onMean = Enumerable.Range(1, 4).Average(s => 2.0 + 0.1 * s + 1.07);
        var summary = JsonNode.Parse(File.ReadAllText(result.SummaryPath))!.AsObject();
        Assert.Equal(Math.Round(offMean / onMean, 3), summary["speedup_end_to_end"]!.GetValue<double>(), 3);
        double rolloutOff = Enumerable.Range(1, 4).Average(s => 4.0 + 0.1 * s), rolloutOn = Enumerable.Range(1, 4).Average(s => 2.0 + 0.1 * s);
        Assert.Equal(Math.Round(rolloutOff / rolloutOn, 3), summary["rollout_speedup"]!.GetValue<double>(), 3);
        Assert.Equal(0.0, summary["reward_curve_gap"]!.GetValue<double>());
        Assert.Equal(0.9, summary["idle_used_fraction"]!.GetValue<double>(), 6);
        Assert.Equal(Math.Round(0.05 / on.Steps.Sum(s => s.StepSeconds), 4), summary["drafter_critical_path_share"]!.GetValue<double>(), 4);
        Assert.Equal(0.5, summary["on"]!["reward_first"]!.GetValue<double>(), 6);
        Assert.Equal(0.7, summary["on"]!["reward_last"]!.GetValue<double>(), 6);
        Assert.Equal(5, summary["steps"]!.AsArray().Count);
        Assert.Equal(5, summary["accept_len_by_step"]!.AsArray().Count);
        Assert.Equal(0.7, summary["on"]!["val_accuracy_last"]!.GetValue<double>(), 6);      // after step index 4 (the last)
        Assert.Equal(0.75, summary["on"]!["val_reward_last"]!.GetValue<double>(), 6);
        Assert.Equal(4.5, summary["on"]!["eval_time_total_s"]!.GetValue<double>(), 6);      // three evaluations, outside the step times

        var md = File.ReadAllText(result.ReportPath);
        foreach (var chart in result.Charts) Assert.Contains($"]({chart.FileName})", md);
        Assert.Contains($"**{(offMean / onMean).ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}x**", md);
    }

    [Fact]
    public void Write_SingleRunWithoutTlt_SkipsTheTltChartsAndSaysWhy()
    {
        using var dir = new TempDirectory();
        var result = RunReport.Write(dir.Path, new[] { Run("off", tlt: false, steps: 2, evaluated: false) });
        var skipped = result.Charts.Where(c => c.Png is null).Select(c => c.FileName).OrderBy(f => f).ToArray();
        Assert.Equal(new[] { "accept_length.png", "idle_time.png", "validation.png" }, skipped);
        foreach (var file in skipped) Assert.False(File.Exists(Path.Combine(dir.Path, file)));
        var md = File.ReadAllText(result.ReportPath);
        Assert.Contains("Skipped: no run used speculative decoding.", md);
        Assert.Contains("Skipped: no run trained the drafter on idle compute.", md);
        Assert.Contains("Skipped: no step was followed by a held-out evaluation.", md);
        Assert.Null(result.Comparison);
        Assert.DoesNotContain("speedup_end_to_end", File.ReadAllText(result.SummaryPath));
    }

    [Fact]
    public void Write_BadInput_ThrowsNamingTheProblem()
    {
        using var dir = new TempDirectory();
        Assert.Contains("one run or two", Assert.Throws<ArgumentException>(() => RunReport.Write(dir.Path, Array.Empty<ReportRun>())).Message);
        Assert.Contains("no steps", Assert.Throws<ArgumentException>(() => RunReport.Write(dir.Path, new[] { new ReportRun("x", Array.Empty<StepMetrics>()) })).Message);
        Assert.Contains("both runs are named", Assert.Throws<ArgumentException>(() => RunReport.Write(dir.Path, new[] { Run("a", false), Run("a", true) })).Message);
        Assert.Contains("run name", Assert.Throws<ArgumentException>(() => RunReport.Write(dir.Path, new[] { Run("../x", false) })).Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
