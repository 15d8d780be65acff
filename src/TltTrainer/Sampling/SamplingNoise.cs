// The random numbers of plain sampling, as a function rather than a stream: the uniform for token x at
// position t of a request is a hash of (seed, t, x) (SplitMix64's finalizer, a counter-based generator), so
// it does not depend on how many numbers were drawn before, on the batch, or on the path that computed the
// position. Plain sampling takes the Gumbel-max of the target's log-probabilities under this noise; a
// drafter can compute the same noise for the positions it drafts (coupled drafting), and verification of
// any draft draws the target's token exactly as plain decoding does. The whole state is (seed, position):
// nothing to checkpoint.
namespace TltTrainer.Sampling;

/// <summary>A request's sampling noise at one sequence position.</summary>
/// <param name="Seed">The request's seed (<see cref="SamplingOptions.Seed"/>).</param>
/// <param name="Position">Index in the sequence (prompt included) of the token being drawn.</param>
public readonly record struct SamplingNoise(ulong Seed, long Position)
{
    private readonly ulong _key = Mix(Seed ^ Mix(unchecked((ulong)Position * 0xD1B54A32D192ED03UL + 0x8CB92BA72F3D8DD7UL)));

    /// <summary>The position's hash key: token x's uniform comes from Mix(Key + x·φ) (the same bits on the host and in <see cref="NoiseTensors"/>).</summary>
    internal ulong Key => _key;

    /// <summary>The noise <paramref name="steps"/> positions further on.</summary>
    public SamplingNoise After(int steps) => new(Seed, Position + steps);

    /// <summary>The uniform in (0, 1) (53 random bits, never 0 or 1) of <paramref name="token"/> at this position.</summary>
    public double Uniform(int token) => ((Mix(unchecked(_key + (ulong)token * Golden)) >> 11) + 0.5) * (1.0 / (1UL << 53));

    internal const ulong Golden = 0x9E3779B97F4A7C15UL, Mix1 = 0xBF58476D1CE4E5B9UL, Mix2 = 0x94D049BB133111EBUL;

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * Mix1;
        z = (z ^ (z >> 27)) * Mix2;
        return z ^ (z >> 31);
    }
}
