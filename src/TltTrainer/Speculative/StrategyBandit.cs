// ε-greedy choice among speculation strategies (including "no speculation"), per running-batch
// bucket. Each arm keeps a sliding window of measured rewards (accepted tokens per second of a
// decode round); the greedy choice is the arm with the best median, which shrugs off the occasional
// slow round on a shared machine. Arms never tried go first, in order, so every arm gets measured.
// Exploration is not uniform: an arm whose median is below half of the best median is explored at a
// tenth of the rate. It is still measured now and then (a drafter trained online can become worth it),
// but a hopeless arm (EAGLE on a 2-layer target, 0.2x plain) no longer costs a tenth of every rollout.
namespace TltTrainer.Speculative;

/// <summary>ε-greedy bandit over a fixed list of arms, scored by the median of a sliding window.</summary>
/// <typeparam name="TArm">Arm type (compared by equality).</typeparam>
public sealed class StrategyBandit<TArm> where TArm : notnull
{
    private readonly IReadOnlyList<TArm> _arms;
    private readonly double _epsilon;
    private readonly int _window;
    private readonly Dictionary<TArm, Queue<double>> _rewards = new();
    private readonly Dictionary<TArm, long> _choices = new();
    private readonly Random _random;

    /// <summary>Creates a bandit.</summary>
    /// <param name="arms">Arms, in the order untried arms are explored.</param>
    /// <param name="epsilon">Exploration probability (0.1 as in TLT).</param>
    /// <param name="window">Rewards kept per arm (300 as in TLT).</param>
    /// <param name="seed">Seed of the exploration coin.</param>
    public StrategyBandit(IReadOnlyList<TArm> arms, double epsilon = 0.1, int window = 300, int seed = 0)
    {
        if (arms.Count == 0) throw new ArgumentException("a bandit needs at least one arm.", nameof(arms));
        if (arms.Distinct().Count() != arms.Count) throw new ArgumentException("arms must be distinct.", nameof(arms));
        if (!(epsilon is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "must lie in [0, 1].");
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _arms = arms;
        _epsilon = epsilon;
        _window = window;
        _random = new Random(seed);
        foreach (var arm in arms) { _rewards[arm] = new Queue<double>(); _choices[arm] = 0; }
    }

    /// <summary>The arms.</summary>
    public IReadOnlyList<TArm> Arms => _arms;

    /// <summary>How often each arm was chosen.</summary>
    public IReadOnlyDictionary<TArm, long> Choices => _choices;

    /// <summary>Picks an arm: an untried one first, else a random one with probability ε (an arm far behind the best a tenth as often), else the best median.</summary>
    public TArm Choose()
    {
        var arm = _arms.FirstOrDefault(a => _rewards[a].Count == 0);
        if (arm is null || _rewards[arm].Count > 0)
            arm = _random.NextDouble() < _epsilon ? Explore() : Best();
        _choices[arm]++;
        return arm;
    }

    // A uniformly drawn arm, except that a far-behind arm is swapped for the best one nine times in ten.
    private TArm Explore()
    {
        var arm = _arms[_random.Next(_arms.Count)];
        var best = Best();
        double bestMedian = Median(best) ?? 0, median = Median(arm) ?? 0;
        bool farBehind = bestMedian > 0 && median < FarBehind * bestMedian;
        return farBehind && _random.NextDouble() >= FarBehindExploreShare ? best : arm;
    }

    /// <summary>An arm whose median is below this fraction of the best median counts as far behind.</summary>
    public const double FarBehind = 0.5;

    /// <summary>Share of the exploration draws a far-behind arm keeps.</summary>
    public const double FarBehindExploreShare = 0.1;

    /// <summary>The arm with the highest median reward so far (untried arms rank last).</summary>
    public TArm Best() => _arms.OrderByDescending(a => Median(a) ?? double.NegativeInfinity).First();

    /// <summary>Records a measured reward for <paramref name="arm"/>; non-finite rewards are ignored.</summary>
    public void Record(TArm arm, double reward)
    {
        if (!double.IsFinite(reward)) return;
        var q = _rewards[arm];
        q.Enqueue(reward);
        while (q.Count > _window) q.Dequeue();
    }

    /// <summary>Median of the arm's window, or null if untried.</summary>
    public double? Median(TArm arm)
    {
        var q = _rewards[arm];
        if (q.Count == 0) return null;
        var sorted = q.OrderBy(x => x).ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }
}
