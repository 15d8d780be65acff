// ε-greedy choice among speculation strategies (including "no speculation"), per running-batch
// bucket. Each arm keeps a sliding window of measured rewards (accepted tokens per second of a
// decode round); the greedy choice is the arm with the best median, which shrugs off the occasional
// slow round on a shared machine. Arms never tried go first, in order, so every arm gets measured.
// Exploration is not uniform: an arm whose median is below half of the best median is explored at a
// tenth of the rate. It is still measured now and then (a drafter trained online can become worth it),
// but a hopeless arm (EAGLE on a 2-layer target, 0.2x plain) no longer costs a tenth of every rollout.
// An arm may carry a prior (e.g. its median in a neighbouring bucket): it ranks by the prior until its own first
// measurement, so a bucket can start from what its neighbours learned instead of trying every arm twice over.
// An arm is judged only on several measurements: one arm's first step is an unlucky draw often enough (a speculative
// round emits 1 to d + 1 tokens), and in the Quickstart job a single bad first measurement (a tree at a third of plain,
// then a chain at a seventh) had the arm far behind and, with exploration decayed, never tried again, while the same
// arms measured 1.5-2x plain over 40 steps in the other worker. So an arm measured fewer than WarmUp times is chosen
// before any greedy or exploring choice, until it has WarmUp measurements.
// Exploration decays with the bucket's steps, ε·E/(E + n) with E = 50, never below ε/10: it matters while little
// is known and costs little once the medians are sound (a drafter trained online still gets re-measured).
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
    private readonly Dictionary<TArm, double> _priors = new();
    private long _steps;
    private readonly Random _random;
    private readonly double _farBehind;
    private readonly int _warmUp;

    /// <summary>Creates a bandit.</summary>
    /// <param name="arms">Arms, in the order untried arms are explored.</param>
    /// <param name="epsilon">Exploration probability (0.1 as in TLT).</param>
    /// <param name="window">Rewards kept per arm (300 as in TLT).</param>
    /// <param name="seed">Seed of the exploration coin.</param>
    /// <param name="farBehind">An arm whose median is below this fraction of the best median is explored a tenth as often (default <see cref="FarBehind"/>).</param>
    /// <param name="warmUp">Measurements an arm gets, once first chosen, before it competes on its median (default 1: one).</param>
    public StrategyBandit(IReadOnlyList<TArm> arms, double epsilon = 0.1, int window = 300, int seed = 0, double farBehind = FarBehind, int warmUp = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(warmUp, 1);
        _warmUp = Math.Min(warmUp, window);
        if (!(farBehind is > 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(farBehind), farBehind, "must lie in (0, 1].");
        _farBehind = farBehind;
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

    /// <summary>
    /// Picks an arm: one with neither a measurement nor a prior first, then one measured fewer than its warm-up times, else a random one with the decayed probability ε (an arm
    /// far behind the best a tenth as often), else the best median (a prior stands in for an arm not yet measured).
    /// </summary>
    /// <param name="eligible">The arms that may be chosen (default all); the first arm is always eligible.</param>
    public TArm Choose(Func<TArm, bool>? eligible = null)
    {
        var candidates = eligible is null ? _arms : _arms.Where((a, i) => i == 0 || eligible(a)).ToList();
        var arm = candidates.FirstOrDefault(a => _rewards[a].Count == 0 && !_priors.ContainsKey(a))
            ?? candidates.FirstOrDefault(a => _rewards[a].Count is > 0 && _rewards[a].Count < _warmUp);
        if (arm is null)
            arm = _random.NextDouble() < EpsilonNow ? Explore(candidates) : Best(candidates);
        _choices[arm]++;
        _steps++;
        return arm;
    }

    /// <summary>The exploration probability after the steps so far: ε·E/(E + n), at least ε/10.</summary>
    public double EpsilonNow => Math.Max(_epsilon / 10, _epsilon * DecaySteps / (DecaySteps + _steps));

    /// <summary>Steps over which exploration halves.</summary>
    public const int DecaySteps = 50;

    /// <summary>Whether <paramref name="arm"/> has been measured (a prior does not count).</summary>
    public bool IsMeasured(TArm arm) => _rewards[arm].Count > 0;

    /// <summary>How many measurements of <paramref name="arm"/> the window holds.</summary>
    public int Measurements(TArm arm) => _rewards[arm].Count;

    /// <summary>Gives <paramref name="arm"/> a prior reward, used in its place until its first measurement (ignored once measured).</summary>
    public void SetPrior(TArm arm, double reward)
    {
        if (_rewards[arm].Count == 0 && double.IsFinite(reward)) _priors[arm] = reward;
    }

    // A uniformly drawn arm, except that a far-behind arm is swapped for the best one nine times in ten.
    private TArm Explore(IReadOnlyList<TArm> candidates)
    {
        var arm = candidates[_random.Next(candidates.Count)];
        var best = Best(candidates);
        double bestMedian = Median(best) ?? 0, median = Median(arm) ?? 0;
        bool farBehind = bestMedian > 0 && median < _farBehind * bestMedian;
        return farBehind && _random.NextDouble() >= FarBehindExploreShare ? best : arm;
    }

    /// <summary>An arm whose median is below this fraction of the best median counts as far behind (the default).</summary>
    public const double FarBehind = 0.5;

    /// <summary>Share of the exploration draws a far-behind arm keeps.</summary>
    public const double FarBehindExploreShare = 0.1;

    /// <summary>The arm with the highest median reward so far (untried arms rank last).</summary>
    public TArm Best() => Best(_arms);

    private TArm Best(IReadOnlyList<TArm> candidates) => candidates.OrderByDescending(a => Median(a) ?? double.NegativeInfinity).First();

    /// <summary>Records a measured reward for <paramref name="arm"/>; non-finite rewards are ignored.</summary>
    public void Record(TArm arm, double reward)
    {
        if (!double.IsFinite(reward)) return;
        var q = _rewards[arm];
        q.Enqueue(reward);
        while (q.Count > _window) q.Dequeue();
    }

    /// <summary>Median of the arm's window, its prior when not yet measured, or null.</summary>
    public double? Median(TArm arm)
    {
        var q = _rewards[arm];
        if (q.Count == 0) return _priors.TryGetValue(arm, out var prior) ? prior : null;
        var sorted = q.OrderBy(x => x).ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }
}
