using System.Text.Json;
using TltTrainer.Telemetry;

namespace TltTrainer.Tests.Telemetry;

public sealed class StepMetricsTests
{
    [Fact]
    public void Serialize_RewardFunctionMeans_AreFlatKeysAndRoundTrip()
    {
        var m = new StepMetrics { Step = 3, ClippedRatio = 0.25, RewardFunctionMeans = new Dictionary<string, double> { ["math_answer"] = 0.5, ["format"] = 1 } };
        string json = JsonSerializer.Serialize(m);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(0.5, doc.RootElement.GetProperty("reward/math_answer/mean").GetDouble());
        Assert.Equal(1.0, doc.RootElement.GetProperty("reward/format/mean").GetDouble());
        Assert.Equal(0.25, doc.RootElement.GetProperty("response/clipped_ratio").GetDouble());

        var back = JsonSerializer.Deserialize<StepMetrics>(json)!;
        Assert.Equal(3, back.Step);
        Assert.Equal(new Dictionary<string, double> { ["math_answer"] = 0.5, ["format"] = 1 }, back.RewardFunctionMeans);
    }

    [Fact]
    public void Deserialize_LineWithoutTheNewKeys_LeavesThemEmptyAndKeepsUnknownKeys()
    {
        var m = JsonSerializer.Deserialize<StepMetrics>("""{"step": 1, "reward/mean": 0.5, "unknown/key": 2}""")!;
        Assert.Equal(0.5, m.RewardMean);
        Assert.Null(m.RewardFunctionMeans);
        Assert.Null(m.TerminatedLengthMean);
        Assert.Contains("\"unknown/key\":2", JsonSerializer.Serialize(m));                       // a newer version's key survives a rewrite
        Assert.Contains("\"unknown/key\":2", JsonSerializer.Serialize(m with { RewardFunctionMeans = new Dictionary<string, double> { ["a"] = 1 } }));
    }
}
