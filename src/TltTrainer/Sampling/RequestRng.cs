// xoshiro256** seeded through SplitMix64: a small, fast, well-tested generator whose whole state is four
// words, so a request's random stream is reproducible across runs and can be saved in a checkpoint.
namespace TltTrainer.Sampling;

/// <summary>A request's own random stream (xoshiro256**). Not thread-safe: one per request.</summary>
public sealed class RequestRng
{
    private ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the stream.</summary>
    public RequestRng(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>The four state words (for checkpoints).</summary>
    public ulong[] State => new[] { _s0, _s1, _s2, _s3 };

    /// <summary>Restores a stream from <see cref="State"/>.</summary>
    public static RequestRng FromState(IReadOnlyList<ulong> state)
    {
        if (state.Count != 4 || state.All(w => w == 0)) throw new ArgumentException("state must be four words, not all zero.", nameof(state));
        return new RequestRng(0) { _s0 = state[0], _s1 = state[1], _s2 = state[2], _s3 = state[3] };
    }

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
