// A histogram as TensorBoard's HistogramProto holds it: range, count, sums and bucket counts with their
// right edges (TensorBoard takes the first bucket's left edge from the minimum).
namespace TltTrainer.Telemetry.TensorBoard;

/// <summary>A histogram in TensorBoard's form: bucket i covers (limit[i-1], limit[i]] (the first starts at <paramref name="Min"/>).</summary>
internal sealed record Histogram(double Min, double Max, double Count, double Sum, double SumSquares, double[] BucketLimits, double[] BucketCounts)
{
    /// <summary>Up to <paramref name="buckets"/> equal-width buckets over the values' range.</summary>
    public static Histogram Of(IReadOnlyList<double> values, int buckets = 30)
    {
        if (values.Count == 0) throw new ArgumentException("a histogram needs at least one value.", nameof(values));
        double min = values.Min(), max = values.Max();
        if (min == max) return new Histogram(min, max, values.Count, values.Sum(), values.Sum(v => v * v), new[] { max }, new double[] { values.Count });
        double width = (max - min) / buckets;
        var limits = Enumerable.Range(1, buckets).Select(i => i == buckets ? max : min + i * width).ToArray();
        var counts = new double[buckets];
        foreach (double v in values) counts[Math.Min(buckets - 1, (int)((v - min) / width))]++;
        return new Histogram(min, max, values.Count, values.Sum(), values.Sum(v => v * v), limits, counts);
    }
}
