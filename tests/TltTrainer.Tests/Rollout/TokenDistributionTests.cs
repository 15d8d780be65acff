using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rollout;

/// <summary>
/// Plain sampling is an exact Gumbel-max draw under the request's hashed noise, and it is reproducible: two computation
/// paths whose logits for a position differ by at most the path tolerance draw the same token, because a draw too close
/// to a decision goes to the canonical distribution.
/// </summary>
public sealed class TokenDistributionTests
{
    private const double Tolerance = 1e-3;

    public static TheoryData<string> Settings() => new() { "greedy", "t1", "t0.6", "topk", "topp", "topk-topp" };

    private static SamplingOptions Options(string name) => name switch
    {
        "greedy" => new SamplingOptions { Temperature = 0 },
        "t1" => new SamplingOptions { Temperature = 1.0 },
        "t0.6" => new SamplingOptions { Temperature = 0.6 },
        "topk" => new SamplingOptions { Temperature = 1.0, TopK = 5 },
        "topp" => new SamplingOptions { Temperature = 0.8, TopP = 0.9 },
        _ => new SamplingOptions { Temperature = 1.0, TopK = 12, TopP = 0.8 },
    };

    [Theory, MemberData(nameof(Settings))]
    public void Sample_TwoPathsWithinTheTolerance_DrawTheSameTokens(string setting)
    {
        var options = Options(setting);
        var random = new Random(7);
        int trials = 20_000, unguardedDifferences = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            // Logits with exact ties on purpose (values on a coarse grid), and two paths plus a canonical one within the tolerance.
            int vocab = 2 + random.Next(30);
            var truth = Enumerable.Range(0, vocab).Select(_ => (float)(Math.Round(random.NextDouble() * 40) / 8)).ToArray();
            float[] Path() => truth.Select(x => x + (float)((random.NextDouble() * 2 - 1) * Tolerance)).ToArray();
            var a = TokenDistribution.FromLogits(Path(), options);
            var b = TokenDistribution.FromLogits(Path(), options);
            var canonical = TokenDistribution.FromLogits(Path(), options);
            var noise = new SamplingNoise((ulong)trial, trial % 7);
            int tokenA = a.Sample(noise, Tolerance, () => canonical, out var decidedA);
            int tokenB = b.Sample(noise, Tolerance, () => canonical, out var decidedB);
            Assert.True(tokenA == tokenB, $"trial {trial}: path A drew {tokenA}, path B drew {tokenB}");
            Assert.True(decidedA.Probs[tokenA] > 0 && decidedB.Probs[tokenB] > 0);
            if (a.Sample(noise) != b.Sample(noise)) unguardedDifferences++;
        }
        Assert.True(unguardedDifferences > 0, "the noise never changed an unguarded draw: the test exercises nothing");
    }

    [Fact]
    public void Sample_LogitsWithoutTies_RedoesAboutTheMarginOfDraws_WhateverTheVocabulary()
    {
        // A sampled draw is redone when its best and second-best scores lie within 4t/T in log: for Gumbel-max that is at
        // most about 4t/T of draws, for a flat distribution over 50 tokens as over 5,000.
        var options = new SamplingOptions { Temperature = 1.0 };
        var random = new Random(3);
        foreach (var (vocab, trials) in new[] { (50, 20_000), (5_000, 2_000) })
        {
            int redone = 0;
            for (int trial = 0; trial < trials; trial++)
            {
                var logits = Enumerable.Range(0, vocab).Select(_ => (float)(random.NextDouble() * 3)).ToArray();
                var dist = TokenDistribution.FromLogits(logits, options);
                var canonical = TokenDistribution.FromLogits(logits, options);
                dist.Sample(new SamplingNoise((ulong)trial, 3), Tolerance, () => canonical, out var decided);
                redone += ReferenceEquals(decided, dist) ? 0 : 1;
            }
            double share = redone / (double)trials, bound = 4 * Tolerance;
            Assert.True(share <= 2 * bound, $"vocabulary {vocab}: {share:P2} of draws redone, expected at most about {bound:P2}");
        }
    }

    [Fact]
    public void Sample_GumbelMax_DrawsTheDistribution()
    {
        var logits = new float[] { 0.5f, 2f, -1f, 1f, 0f, 1.5f };
        foreach (var options in new[] { new SamplingOptions { Temperature = 0.7 }, new SamplingOptions { Temperature = 1.0, TopK = 4 },
            new SamplingOptions { Temperature = 1.2, TopP = 0.8 } })
        {
            var dist = TokenDistribution.FromLogits(logits, options);
            var counts = new long[logits.Length];
            const int draws = 60_000;
            for (int i = 0; i < draws; i++) counts[dist.Sample(new SamplingNoise((ulong)(i / 17), i % 17))]++;
            for (int x = 0; x < logits.Length; x++) if (dist.Probs[x] == 0) Assert.Equal(0, counts[x]);
            var (chi, dof, pValue) = ChiSquare.Test(counts, dist.Probs);
            Assert.True(pValue > 1e-4, $"chi-square {chi:F1} over {dof} degrees of freedom, p = {pValue:E2} ({options})");
        }
    }

    [Fact]
    public void Sample_AtTheTieOfTwoTokens_UsesTheCanonicalDistribution()
    {
        // Two equally likely tokens: their scores differ only by the noise, so take a position whose noise nearly ties them;
        // the guard must ask the canonical path there and follow it.
        var dist = TokenDistribution.FromLogits(new float[] { 1f, 1f }, new SamplingOptions { Temperature = 1.0 });
        var noise = Enumerable.Range(0, 1_000_000).Select(p => new SamplingNoise(9, p))
            .First(n => Math.Abs(Math.Log(-Math.Log(n.Uniform(0))) - Math.Log(-Math.Log(n.Uniform(1)))) < 1e-4);
        foreach (var (favoured, logits) in new[] { (0, new float[] { 1.01f, 1f }), (1, new float[] { 1f, 1.01f }) })
        {
            var canonical = TokenDistribution.FromLogits(logits, new SamplingOptions { Temperature = 1.0 });
            int calls = 0;
            int token = dist.Sample(noise, 1e-4, () => { calls++; return canonical; }, out var decided);
            Assert.Equal(1, calls);
            Assert.Same(canonical, decided);
            Assert.Equal(favoured, token);
        }
    }

    [Fact]
    public void FromLogits_NonFiniteLogit_ThrowsNamingTheToken()
    {
        var e = Assert.Throws<NonFiniteLogitsException>(() => TokenDistribution.FromLogits(new[] { 0f, float.NaN }, new SamplingOptions()));
        Assert.Equal(1, e.Token);
    }
}
