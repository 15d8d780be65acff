// Options of the built-in chain-arithmetic task. The term count follows a truncated discrete power
// law P(n) ∝ n^(-TailExponent) on [MinTerms, MaxTerms]: with the defaults (2, 48, 2.0) the median
// response is 18 tokens, p90 ~90, p99 ~330 and the longest ~440: a long tail like reasoning RL's.
namespace TltTrainer.Tasks;

/// <summary>Shape and seed of a <see cref="ChainArithmeticTask"/>.</summary>
public sealed record ChainArithmeticOptions
{
    /// <summary>Largest term count the validation accepts (keeps a worked example well under 1024 tokens).</summary>
    public const int TermLimit = 64;

    /// <summary>Fewest terms in a chain; at least 2. Default 2.</summary>
    public int MinTerms { get; init; } = 2;

    /// <summary>Most terms in a chain; at most <see cref="TermLimit"/>. Default 48.</summary>
    public int MaxTerms { get; init; } = 48;

    /// <summary>Exponent α of the term-count law P(n) ∝ n^-α; 0 is uniform, larger is shorter-tailed. Default 2.0.</summary>
    public double TailExponent { get; init; } = 2.0;

    /// <summary>Seed of the generator; the same seed gives the same examples on every platform. Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Checks every field and returns this instance.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A field is out of range; the message names it and its value.</exception>
    public ChainArithmeticOptions Validate()
    {
        if (MinTerms < 2)
            throw new ArgumentOutOfRangeException(nameof(MinTerms), MinTerms, "MinTerms must be at least 2.");
        if (MaxTerms < MinTerms || MaxTerms > TermLimit)
            throw new ArgumentOutOfRangeException(nameof(MaxTerms), MaxTerms, $"MaxTerms must lie in [MinTerms = {MinTerms}, {TermLimit}].");
        if (!double.IsFinite(TailExponent) || TailExponent < 0 || TailExponent > 10)
            throw new ArgumentOutOfRangeException(nameof(TailExponent), TailExponent, "TailExponent must be finite and lie in [0, 10].");
        return this;
    }
}
