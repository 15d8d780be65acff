using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

public sealed class SamplingNoiseTests
{
    [Fact]
    public void Uniform_IsAFunctionOfSeedPositionAndToken()
    {
        var a = new SamplingNoise(5, 17);
        Assert.Equal(a.Uniform(3), new SamplingNoise(5, 17).Uniform(3));
        Assert.Equal(a.After(2).Uniform(3), new SamplingNoise(5, 19).Uniform(3));
        Assert.NotEqual(a.Uniform(3), a.Uniform(4));
        Assert.NotEqual(a.Uniform(3), new SamplingNoise(6, 17).Uniform(3));
        Assert.NotEqual(a.Uniform(3), new SamplingNoise(5, 18).Uniform(3));
    }

    [Fact]
    public void Uniform_OverTokensPositionsAndSeeds_IsUniformAndNeverZeroOrOne()
    {
        // Neighbouring counters are where a weak hash shows: consecutive tokens, positions and seeds, into 64 cells.
        var counts = new long[64];
        var pairs = new long[8 * 8];                           // (cell of token x, cell of token x + 1): independence
        for (ulong seed = 0; seed < 20; seed++)
            for (int position = 0; position < 50; position++)
            {
                var noise = new SamplingNoise(seed, position);
                double previous = noise.Uniform(0);
                for (int token = 1; token < 200; token++)
                {
                    double u = noise.Uniform(token);
                    Assert.True(u > 0 && u < 1);
                    counts[(int)(u * 64)]++;
                    pairs[(int)(previous * 8) * 8 + (int)(u * 8)]++;
                    previous = u;
                }
            }
        Assert.True(ChiSquare.Test(counts, Enumerable.Repeat(1.0 / 64, 64).ToArray()).PValue > 1e-4);
        Assert.True(ChiSquare.Test(pairs, Enumerable.Repeat(1.0 / 64, 64).ToArray()).PValue > 1e-4);
    }
}
