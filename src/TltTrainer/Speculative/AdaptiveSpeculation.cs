// When to speculate and with what. Speculation pays when the running batch is small (the long tail):
// it turns on only after the running batch has stayed at or below a threshold for a few consecutive
// steps, and then an ε-greedy bandit per running-batch bucket picks the arm (drafter + draft shape, or
// no speculation) with the best median measured throughput (tokens emitted per second of a step).
// Bandits live as long as the policy object, so what is learned carries over across RL steps.
// Only steady-state steps are scored: the first step of an arm after another one pays that arm's
// switching cost (the EAGLE drafter catches up on every token decoded without it), and scoring it made
// rarely tried arms look slow, so they stayed rarely tried. A switch therefore keeps the new arm for
// one more step, and that second step is the one recorded.
namespace TltTrainer.Speculative;

/// <summary>A choice the adaptive engine can make for a decode step.</summary>
/// <param name="Name">Label for metrics (e.g. <c>eagle/tree-d6k4b32</c>, <c>none</c>).</param>
/// <param name="Drafter">The drafter, or null for plain decoding.</param>
/// <param name="Strategy">The draft shape (ignored when <paramref name="Drafter"/> is null).</param>
public sealed record SpeculationArm(string Name, IDrafter? Drafter, SpecStrategy? Strategy)
{
    /// <summary>Plain decoding.</summary>
    public static SpeculationArm None { get; } = new("none", null, null);

    /// <summary>An arm named after its drafter and shape.</summary>
    public static SpeculationArm Of(IDrafter drafter, SpecStrategy strategy) => new($"{drafter.Name}/{strategy}", drafter, strategy);
}

/// <summary>Settings of adaptive speculation.</summary>
public sealed record AdaptiveSpeculationOptions
{
    /// <summary>Arms to choose among; include <see cref="SpeculationArm.None"/> so the engine can decline to speculate.</summary>
    public required IReadOnlyList<SpeculationArm> Arms { get; init; }

    /// <summary>Speculate only when the running batch is at most this. Default 32.</summary>
    public int BatchThreshold { get; init; } = 32;

    /// <summary>Consecutive steps at or below the threshold before speculating. Default 10.</summary>
    public int Patience { get; init; } = 10;

    /// <summary>Bandit exploration probability. Default 0.1.</summary>
    public double Epsilon { get; init; } = 0.1;

    /// <summary>Bandit window per arm. Default 300.</summary>
    public int Window { get; init; } = 300;

    /// <summary>Seed of the bandits' exploration. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Clock that times each step for the bandit's reward (tokens per second per running sequence). Default the system clock;
    /// a test injects a fake one (e.g. one that each drafter advances by a set cost) so that the choice of arm never depends
    /// on the machine's speed or load.
    /// </summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Upper bounds (inclusive) of the running-batch buckets, ascending; larger batches share the last bucket.</summary>
    public IReadOnlyList<int> BucketBounds { get; init; } = new[] { 1, 4, 8, 16, 32 };

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when invalid.</summary>
    public AdaptiveSpeculationOptions Validate()
    {
        if (Arms.Count == 0) throw new ArgumentException("Arms must not be empty.");
        if (Arms.Select(a => a.Name).Distinct().Count() != Arms.Count) throw new ArgumentException("Arm names must be distinct.");
        foreach (var a in Arms) if (a.Drafter is not null && a.Strategy is null) throw new ArgumentException($"arm '{a.Name}' has a drafter but no strategy.");
        if (BatchThreshold < 1) throw new ArgumentException($"BatchThreshold = {BatchThreshold} must be ≥ 1.");
        if (Patience < 0) throw new ArgumentException($"Patience = {Patience} must be ≥ 0.");
        if (Clock is null) throw new ArgumentException("Clock must not be null.");
        if (BucketBounds.Count == 0 || BucketBounds.Zip(BucketBounds.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException("BucketBounds must be a non-empty ascending list.");
        return this;
    }
}

/// <summary>The adaptive policy's state: the small-batch streak and one bandit per bucket.</summary>
public sealed class AdaptiveSpeculation
{
    private readonly AdaptiveSpeculationOptions _options;
    private readonly StrategyBandit<SpeculationArm>[] _bandits;
    private readonly long[] _bucketSteps;
    private int _streak;
    private SpeculationArm? _last;        // arm of the previous step (None for plain steps before the streak)
    private bool _holdNext, _steady;

    /// <summary>Creates the policy.</summary>
    public AdaptiveSpeculation(AdaptiveSpeculationOptions options)
    {
        _options = options.Validate();
        _bandits = Enumerable.Range(0, options.BucketBounds.Count + 1)
            .Select(i => new StrategyBandit<SpeculationArm>(options.Arms, options.Epsilon, options.Window, options.Seed + i, farBehind: FarBehind, warmUp: WarmUp)).ToArray();
        _bucketSteps = new long[_bandits.Length];
    }

    /// <summary>The settings.</summary>
    public AdaptiveSpeculationOptions Options => _options;

    /// <summary>Bucket label of a running batch size, e.g. <c>2-4</c>.</summary>
    public string BucketName(int runningBatch)
    {
        int b = Bucket(runningBatch);
        int lo = b == 0 ? 1 : _options.BucketBounds[b - 1] + 1;
        return b < _options.BucketBounds.Count ? (lo == _options.BucketBounds[b] ? $"{lo}" : $"{lo}-{_options.BucketBounds[b]}") : $"{lo}+";
    }

    /// <summary>Picks the arm for the next step (plain decoding until the small-batch streak is long enough).</summary>
    /// <returns>The arm and whether the bandit chose it (then report its throughput with <see cref="Record"/>).</returns>
    public (SpeculationArm Arm, bool FromBandit) Choose(int runningBatch)
    {
        _streak = runningBatch <= _options.BatchThreshold ? _streak + 1 : 0;
        if (_streak <= _options.Patience)
        {
            (_last, _holdNext, _steady) = (SpeculationArm.None, false, false);
            return (SpeculationArm.None, false);
        }
        int bucket = Bucket(runningBatch);
        _bucketSteps[bucket]++;
        if (!(_holdNext && _last is not null)) LendPriors(bucket);
        var arm = _holdNext && _last is not null ? _last : _bandits[bucket].Choose(a => Eligible(a, bucket));
        _steady = arm.Equals(_last);
        _holdNext = !_steady;            // a switch: stay one more step so the arm is measured in steady state
        _last = arm;
        return (arm, true);
    }

    /// <summary>
    /// Records the measured throughput (tokens per second) of a step the bandit chose; ignored for the first
    /// step after a switch of arm (it carries the switching cost, see the file comment).
    /// </summary>
    public void Record(int runningBatch, SpeculationArm arm, double tokensPerSecond)
    {
        if (_steady) _bandits[Bucket(runningBatch)].Record(arm, tokensPerSecond);
    }

    /// <summary>Choices per bucket and arm so far.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Choices() =>
        Enumerable.Range(0, _bandits.Length).ToDictionary(
            b => b == 0 ? BucketName(1) : BucketName(_options.BucketBounds[b - 1] + 1),
            b => (IReadOnlyDictionary<string, long>)_bandits[b].Choices.ToDictionary(kv => kv.Key.Name, kv => kv.Value));

    /// <summary>Resets the small-batch streak (at the start of a rollout).</summary>
    public void ResetStreak() => (_streak, _last, _holdNext, _steady) = (0, null, false, false);

    /// <summary>
    /// Whether <paramref name="arm"/> may be tried in <paramref name="bucket"/>. Speculation pays more the smaller the running
    /// batch, so an arm that loses to plain decoding in a smaller bucket loses here too: once the next smaller bucket has
    /// measured it <see cref="PromoteAfter"/> times, it is tried here only if it was at least <see cref="PromoteAbovePlain"/>
    /// times plain decoding there. The smallest bucket tries every arm. A bucket whose smaller neighbour is rarely reached
    /// (in the Quickstart job ~6 steps per rollout at batch 1 against ~170 at 2–4) would wait for its verdict forever: once
    /// it has run <see cref="StarvedSteps"/> steps and <see cref="StarvedRatio"/> times as many as that neighbour, it tries
    /// the arms the neighbour cannot judge yet on its own. So exploration starts where speculation is likeliest to pay and
    /// spreads upward only as far as it pays, and no bucket waits on a neighbour the tail seldom visits.
    /// </summary>
    private bool Eligible(SpeculationArm arm, int bucket)
    {
        if (arm.Drafter is null || bucket == 0) return true;
        var below = _bandits[bucket - 1];
        if (below.Measurements(arm) >= PromoteAfter && below.IsMeasured(SpeculationArm.None))
            return below.Median(arm)!.Value >= PromoteAbovePlain * below.Median(SpeculationArm.None)!.Value;
        return _bucketSteps[bucket] >= StarvedSteps && _bucketSteps[bucket - 1] * StarvedRatio <= _bucketSteps[bucket];
    }

    /// <summary>
    /// How much better than plain decoding an arm must be in a bucket to be tried in the next larger one: gains shrink from
    /// one bucket to the next (on this CPU by a quarter to a third), so an arm that barely wins in one loses in the next.
    /// </summary>
    public const double PromoteAbovePlain = 1.1;

    /// <summary>
    /// Measurements the smaller bucket must hold of an arm before its margin promotes it: one noisy measurement of an arm
    /// that barely wins (5% over plain, 10% noise) would promote it a third of the time.
    /// </summary>
    public const int PromoteAfter = 3;

    /// <summary>
    /// An arm 10% or more behind the best of its bucket is explored a tenth as often: exploring it costs its own loss plus the
    /// switch (two steps), and against plain decoding that is what makes adaptive slower than plain.
    /// </summary>
    public const double FarBehind = 0.9;

    /// <summary>
    /// Steady-state measurements an arm gets in a bucket before its median competes (see <see cref="StrategyBandit{TArm}"/>): a speculative
    /// step's throughput varies several-fold with the tokens it happens to accept, and one unlucky first step condemned good arms.
    /// </summary>
    public const int WarmUp = 3;

    /// <summary>Steps a bucket waits for its smaller neighbour's verdict on an arm before it may try the arm on its own.</summary>
    public const int StarvedSteps = 64;

    /// <summary>How many times more steps than its smaller neighbour a bucket must have run to count that neighbour as rarely reached.</summary>
    public const int StarvedRatio = 8;

    /// <summary>
    /// Arms not yet measured in <paramref name="bucket"/> take as prior their median in the nearest smaller bucket that
    /// measured them (an optimistic estimate: speculation pays more there), so a bucket tries first the arms most likely to win
    /// instead of every eligible arm in turn.
    /// </summary>
    private void LendPriors(int bucket)
    {
        var bandit = _bandits[bucket];
        foreach (var arm in _options.Arms)
        {
            if (bandit.IsMeasured(arm)) continue;
            for (int smaller = bucket - 1; smaller >= 0; smaller--)
            {
                if (!_bandits[smaller].IsMeasured(arm)) continue;
                bandit.SetPrior(arm, _bandits[smaller].Median(arm)!.Value);
                break;
            }
        }
    }

    private int Bucket(int runningBatch)
    {
        for (int i = 0; i < _options.BucketBounds.Count; i++) if (runningBatch <= _options.BucketBounds[i]) return i;
        return _options.BucketBounds.Count;
    }
}
