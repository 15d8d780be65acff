// Group-relative advantage estimators: one scalar advantage per response, computed within its group
// (the G responses of one prompt). GRPO: z-score with the population std, (r − mean)/(std + ε).
// Dr.GRPO: mean-centred only, r − mean (no std, which biases toward easy/hard prompts). RLOO:
// leave-one-out baseline, r − mean of the other G − 1 = G/(G − 1)·(r − mean). A group of one has no
// baseline: advantage 0.
namespace TltTrainer.Rl;

/// <summary>Computes per-response advantages from rewards grouped by prompt.</summary>
public interface IAdvantageEstimator
{
    /// <summary>Advantages for <paramref name="rewards"/>; responses with equal <paramref name="groupIds"/> form a group.</summary>
    /// <exception cref="ArgumentException">Lengths differ or a reward is not finite (the message names its index).</exception>
    double[] Compute(IReadOnlyList<double> rewards, IReadOnlyList<long> groupIds);
}

/// <summary>Base of the group estimators: validation and grouping.</summary>
public abstract class GroupAdvantageEstimator : IAdvantageEstimator
{
    /// <inheritdoc />
    public double[] Compute(IReadOnlyList<double> rewards, IReadOnlyList<long> groupIds)
    {
        if (rewards.Count != groupIds.Count) throw new ArgumentException($"{rewards.Count} rewards but {groupIds.Count} group ids.");
        for (int i = 0; i < rewards.Count; i++)
            if (!double.IsFinite(rewards[i])) throw new ArgumentException($"reward {i} is {rewards[i]}; rewards must be finite.", nameof(rewards));
        var advantages = new double[rewards.Count];
        foreach (var group in Enumerable.Range(0, rewards.Count).GroupBy(i => groupIds[i]))
        {
            var members = group.ToArray();
            var values = members.Select(i => rewards[i]).ToArray();
            var result = members.Length == 1 ? new[] { 0.0 } : ComputeGroup(values);
            for (int k = 0; k < members.Length; k++) advantages[members[k]] = result[k];
        }
        return advantages;
    }

    /// <summary>Advantages of one group of at least two rewards.</summary>
    protected abstract double[] ComputeGroup(double[] rewards);
}

/// <summary>GRPO: (r − mean) / (population std + ε).</summary>
/// <param name="Epsilon">Added to the std. Default 1e-6.</param>
public sealed class GrpoAdvantage(double Epsilon = 1e-6) : GroupAdvantageEstimator
{
    /// <inheritdoc />
    protected override double[] ComputeGroup(double[] r)
    {
        double mean = r.Average();
        double std = Math.Sqrt(r.Sum(x => (x - mean) * (x - mean)) / r.Length);
        return r.Select(x => (x - mean) / (std + Epsilon)).ToArray();
    }
}

/// <summary>Dr.GRPO: r − mean.</summary>
public sealed class DrGrpoAdvantage : GroupAdvantageEstimator
{
    /// <inheritdoc />
    protected override double[] ComputeGroup(double[] r)
    {
        double mean = r.Average();
        return r.Select(x => x - mean).ToArray();
    }
}

/// <summary>RLOO: r − mean of the other responses of the group.</summary>
public sealed class RlooAdvantage : GroupAdvantageEstimator
{
    /// <inheritdoc />
    protected override double[] ComputeGroup(double[] r)
    {
        double sum = r.Sum();
        return r.Select(x => x - (sum - x) / (r.Length - 1)).ToArray();
    }
}
