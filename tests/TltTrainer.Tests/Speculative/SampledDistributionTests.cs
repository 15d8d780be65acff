using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

/// <summary>
/// Invariant 2: sampled speculative decoding has exactly the target's distribution. On a 5-token vocabulary the joint
/// distribution of the first three generated tokens over 20,000 samples is compared by chi-square with the exact
/// distribution computed by enumerating all 125 continuations.
/// </summary>
public sealed class SampledDistributionTests
{
    private const int Vocab = 5, Samples = 20_000, NewTokens = 3;
    private static readonly TransformerConfig Config = TestModels.SmallVocab(Vocab);
    private static readonly int[] Prompt = { 1, 3, 2 };

    public static TheoryData<string, bool, TreeVerification> Cases() => new()
    {
        { "eagle-chain-rejection", false, TreeVerification.Coupled }, { "eagle-tree", false, TreeVerification.ChildrenFirst },
        { "eagle-reduced-chain-rejection", false, TreeVerification.Coupled }, { "eagle-reduced-chain-rejection", true, TreeVerification.Coupled },
        { "poor-chain-rejection", true, TreeVerification.Coupled }, { "poor-tree", true, TreeVerification.ChildrenFirst },
        { "poor-tree", false, TreeVerification.Coupled },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Speculative_Sampled_JointOfFirstThreeTokens_MatchesExactTarget(string drafterName, bool truncated, TreeVerification rule)
    {
        using var model = TestModels.Peaked(Config, seed: 41, std: 0.4);
        var options = truncated
            ? new SamplingOptions { Temperature = 0.8, TopK = 4, TopP = 0.9, MaxNewTokens = NewTokens }
            : new SamplingOptions { Temperature = 1.0, MaxNewTokens = NewTokens };
        using var eagle = new EagleDraftModel(Config, seed: 4);
        using IDrafter drafter = drafterName switch
        {
            "eagle-chain-rejection" => new EagleDrafter(model, eagle),
            // q is 0 outside {0, 2, 4}: rejection sampling must still give exactly p, tokens 1 and 3 included.
            "eagle-reduced-chain-rejection" => new EagleDrafter(model, eagle) { Vocabulary = new DraftVocabulary(new[] { 0, 2, 4 }, Vocab) },
            "eagle-tree" => new EagleDrafter(model, eagle),
            "poor-chain-rejection" => PoorChainDrafter(new[] { 0.05, 0.05, 0.1, 0.1, 0.7 }),
            _ => new FuncDrafter((ctx, r) => new DraftTree(new[] { -1, -1, 0, 2 }, new[] { 4, 0, 4, 1 }).Truncate(ctx.MaxDraft[r])),
        };
        var strategy = drafterName.EndsWith("tree", StringComparison.Ordinal) ? SpecStrategy.TreeOf(3, 2, 6) : SpecStrategy.ChainOf(3, sample: true);
        var engine = new RolloutEngine(model, new RolloutEngineOptions
        {
            Drafter = drafter, Strategy = strategy, MaxRunningBatch = Samples, MaxSequenceLength = 16, TreeVerification = rule,
        });
        var requests = Enumerable.Range(0, Samples).Select(i => new RolloutRequest(i, Prompt, options with { Seed = (ulong)i + 7 })).ToList();
        var result = engine.Generate(requests);
        Assert.True(result.Metrics.DraftedTokens > Samples / 2, "too few drafted tokens to test anything");

        var counts = new long[Vocab * Vocab * Vocab];
        foreach (var t in result.Trajectories) counts[(t.ResponseTokens[0] * Vocab + t.ResponseTokens[1]) * Vocab + t.ResponseTokens[2]]++;
        var exact = ExactJoint(model, options);
        var (stat, dof, p) = ChiSquare.Test(counts, exact);
        Assert.True(p > 0.001, $"chi-square {stat:F1} on {dof} dof, p = {p:g3}");
    }

    [Fact]
    public void ChainAcceptance_WithKnownDraftDistribution_MatchesSumOfMinPQ()
    {
        using var model = TestModels.Peaked(Config, seed: 42, std: 0.4);
        var q = new[] { 0.3, 0.05, 0.25, 0.1, 0.3 };
        var options = new SamplingOptions { Temperature = 1.0, MaxNewTokens = NewTokens };
        using var drafter = PoorChainDrafter(q);
        var engine = new RolloutEngine(model, new RolloutEngineOptions
        {
            Drafter = drafter, Strategy = SpecStrategy.ChainOf(1), MaxRunningBatch = Samples, MaxSequenceLength = 16,
        });
        var requests = Enumerable.Range(0, Samples).Select(i => new RolloutRequest(i, Prompt, options with { Seed = (ulong)i })).ToList();
        var metrics = engine.Generate(requests).Metrics;
        Assert.Equal(Samples, metrics.DraftedTokens);      // exactly one drafted token per request (round after the first token)

        // Expected acceptance: Σ_t1 p(t1) Σ_x min(p(x | t1), q(x)).
        double expected = 0;
        var first = Distributions(model, new[] { Prompt }, options)[0];
        var second = Distributions(model, Enumerable.Range(0, Vocab).Select(t1 => Prompt.Append(t1).ToArray()).ToArray(), options);
        for (int t1 = 0; t1 < Vocab; t1++)
            expected += first.Probs[t1] * Enumerable.Range(0, Vocab).Sum(x => Math.Min(second[t1].Probs[x], q[x]));
        double measured = (double)metrics.AcceptedTokens / metrics.DraftedTokens;
        double sigma = Math.Sqrt(expected * (1 - expected) / Samples);
        Assert.True(Math.Abs(measured - expected) < 4 * sigma, $"acceptance {measured:F4} vs Σ min(p, q) = {expected:F4} (σ {sigma:F4})");
    }

    /// <summary>Chain drafter that samples each token from a fixed distribution q (using the request's stream) and reports q.</summary>
    private static FuncDrafter PoorChainDrafter(double[] q) => new((ctx, r) =>
    {
        int depth = Math.Min(ctx.Strategy.Depth, ctx.MaxDraft[r]);
        var tokens = Enumerable.Range(0, depth).Select(_ => TokenDistribution.SampleFrom(q, ctx.Rngs[r].NextDouble())).ToArray();
        return new DraftTree(Enumerable.Range(-1, depth).ToArray(), tokens, Enumerable.Repeat(q, depth).ToArray());
    }, "poor-chain");

    private static double[] ExactJoint(CausalLM model, SamplingOptions options)
    {
        var joint = new double[Vocab * Vocab * Vocab];
        var d1 = Distributions(model, new[] { Prompt }, options)[0];
        var prefixes2 = Enumerable.Range(0, Vocab).Select(a => Prompt.Append(a).ToArray()).ToArray();
        var d2 = Distributions(model, prefixes2, options);
        var prefixes3 = Enumerable.Range(0, Vocab * Vocab).Select(ab => Prompt.Append(ab / Vocab).Append(ab % Vocab).ToArray()).ToArray();
        var d3 = Distributions(model, prefixes3, options);
        for (int a = 0; a < Vocab; a++)
            for (int b = 0; b < Vocab; b++)
                for (int c = 0; c < Vocab; c++)
                    joint[(a * Vocab + b) * Vocab + c] = d1.Probs[a] * d2[a].Probs[b] * d3[a * Vocab + b].Probs[c];
        return joint;
    }

    /// <summary>The target's processed next-token distribution after each prefix (all the same length), by full forward.</summary>
    private static TokenDistribution[] Distributions(CausalLM model, int[][] prefixes, SamplingOptions options)
    {
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var noGrad = no_grad();
        int n = prefixes.Length, len = prefixes[0].Length;
        using var ids = tensor(prefixes.SelectMany(p => p.Select(x => (long)x)).ToArray(), new long[] { n, len });
        using var output = model.Forward(ids);
        var logits = output.Logits!.narrow(1, len - 1, 1).contiguous().data<float>().ToArray();
        return Enumerable.Range(0, n).Select(i => TokenDistribution.FromLogits(logits.AsSpan(i * Vocab, Vocab), options)).ToArray();
    }
}

internal static class DraftTreeTestExtensions
{
    /// <summary>Drops nodes deeper than <paramref name="maxDepth"/>.</summary>
    public static DraftTree Truncate(this DraftTree tree, int maxDepth)
    {
        var keep = Enumerable.Range(0, tree.Count).Where(i => tree.Depths[i] <= maxDepth).ToArray();
        var map = keep.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        return new DraftTree(keep.Select(n => tree.Parents[n] < 0 ? -1 : map[tree.Parents[n]]).ToArray(), keep.Select(n => tree.Tokens[n]).ToArray());
    }
}
