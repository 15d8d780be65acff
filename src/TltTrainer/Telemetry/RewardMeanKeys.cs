// StepMetrics.RewardFunctionMeans on a JSONL line: one flat "reward/NAME/mean" key per reward function,
// carried as the record's JSON extension data (names depend on the run, so they cannot be properties).
using System.Text.Json;

namespace TltTrainer.Telemetry;

/// <summary>The flat <c>reward/NAME/mean</c> keys of <see cref="StepMetrics.RewardFunctionMeans"/>.</summary>
internal static class RewardMeanKeys
{
    private const string Prefix = "reward/", Suffix = "/mean";

    /// <summary>The keys of <paramref name="means"/>, plus the entries of <paramref name="others"/> that are not reward means.</summary>
    public static Dictionary<string, JsonElement> Build(IReadOnlyDictionary<string, double> means, Dictionary<string, JsonElement>? others)
    {
        var keys = others is null ? new Dictionary<string, JsonElement>() : others.Where(kv => !IsKey(kv.Key)).ToDictionary();
        foreach (var (name, mean) in means) keys[Prefix + name + Suffix] = JsonSerializer.SerializeToElement(mean);
        return keys;
    }

    private static bool IsKey(string key) =>
        key.Length > Prefix.Length + Suffix.Length && key.StartsWith(Prefix, StringComparison.Ordinal) && key.EndsWith(Suffix, StringComparison.Ordinal);

    public static IReadOnlyDictionary<string, double>? Parse(Dictionary<string, JsonElement>? extra)
    {
        if (extra is null) return null;
        var means = new Dictionary<string, double>();
        foreach (var (key, value) in extra)
            if (IsKey(key) && value.ValueKind == JsonValueKind.Number)
                means[key[Prefix.Length..^Suffix.Length]] = value.GetDouble();
        return means.Count == 0 ? null : means;
    }
}
