// A tiny, fully specified PRNG (SplitMix64, Steele et al. 2014) so that task data is identical on
// every platform and .NET version; System.Random's seeded algorithm is not guaranteed to stay fixed.
namespace TltTrainer.Tasks;

/// <summary>SplitMix64 pseudo-random generator (not thread-safe; one per sampler).</summary>
internal sealed class SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, <paramref name="bound"/>) (multiply-shift; bias below 2^-32 for small bounds).</summary>
    public int NextInt(int bound) => (int)(((NextUInt64() >> 32) * (ulong)bound) >> 32);
}
