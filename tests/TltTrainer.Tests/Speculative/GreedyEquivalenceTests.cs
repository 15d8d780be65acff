using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

/// <summary>Invariant 1: greedy speculative decoding returns exactly the plain greedy tokens.</summary>
public sealed class GreedyEquivalenceTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    public static TheoryData<string, string, int> Cases()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var drafter in new[] { "oracle", "ngram", "eagle" })
            foreach (var shape in new[] { "chain", "tree" })
                foreach (var batch in new[] { 1, 7 })
                    data.Add(drafter, shape, batch);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Speculative_Greedy_IsTokenForTokenPlainGreedy(string drafterName, string shape, int batch)
    {
        using var model = TestModels.Peaked(Config, seed: 21);
        // Running batch 1: two requests one after the other; running batch 7: a ragged batch of seven.
        var requests = MakeRequests(model, Math.Max(batch, 2));
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        Assert.Contains(plain, t => t.Finish == FinishReason.Stop);
        Assert.Contains(plain, t => t.Finish == FinishReason.Length);

        var strategy = shape == "chain" ? SpecStrategy.ChainOf(4) : SpecStrategy.TreeOf(depth: 4, topK: 3, verifyBudget: 10);
        using var eagle = new EagleDraftModel(Config, seed: 3);
        using IDrafter drafter = drafterName switch
        {
            "oracle" => OracleDrafter(plain, requests, shape),
            "ngram" => new NGramDrafter(new NGramDrafterOptions(MaxN: 3, MinN: 1)),
            _ => new EagleDrafter(model, eagle),
        };
        var engine = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = strategy, MaxRunningBatch = batch });
        var result = engine.Generate(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
            Assert.Equal(plain[i].Finish, result.Trajectories[i].Finish);
        }
        Assert.True(result.Metrics.SpeculativeSteps > 0, "no speculation round ran");
        if (drafterName == "oracle") Assert.True(result.Metrics.MeanAcceptLength > 1.5, $"oracle accept length {result.Metrics.MeanAcceptLength}");
    }

    /// <summary>Requests with different prompt lengths, limits inside speculation rounds, and a stop token that occurs mid-response.</summary>
    private static List<RolloutRequest> MakeRequests(CausalLM model, int batch)
    {
        var prompts = Enumerable.Range(0, batch).Select(i => Enumerable.Range(0, 3 + 2 * i).Select(t => (t * 7 + i * 5 + 1) % Config.VocabSize).ToList()).ToList();
        var probe = new RolloutEngine(model).Generate(prompts.Select((p, i) => new RolloutRequest(i, p, SamplingOptions.Greedy(30))).ToList()).Trajectories;
        // A token the first response emits at step ~9 becomes a stop token for every request.
        var stop = new HashSet<int> { probe[0].ResponseTokens[9] };
        return prompts.Select((p, i) => new RolloutRequest(i, p, SamplingOptions.Greedy(11 + 6 * i, stop), GroupId: i % 2)).ToList();
    }

    /// <summary>Proposes the reference continuation with deterministic corruptions (and, for trees, a wrong sibling).</summary>
    private static FuncDrafter OracleDrafter(IReadOnlyList<Trajectory> reference, IReadOnlyList<RolloutRequest> requests, string shape) =>
        new((context, row) =>
        {
            var tokens = context.Tokens[row];
            int index = requests.Select((r, i) => (r, i)).First(x => x.r.PromptTokens.SequenceEqual(tokens.Take(context.PromptLengths[row]))).i;
            int generated = tokens.Count - context.PromptLengths[row];
            var future = reference[index].ResponseTokens.Skip(generated).Take(Math.Min(4, context.MaxDraft[row])).ToList();
            for (int j = 0; j < future.Count; j++)
                if ((generated * 31 + j * 17 + index) % 5 == 0) future[j] = (future[j] + 1) % Config.VocabSize;
            if (shape == "chain" || future.Count == 0) return DraftTree.Chain(future);
            var parents = Enumerable.Range(-1, future.Count).ToList();
            var drafted = new List<int>(future);
            parents.Add(-1);
            drafted.Add((future[0] + 2) % Config.VocabSize);
            return new DraftTree(parents.ToArray(), drafted.ToArray());
        });
}

/// <summary>With coupled verification and deterministic drafts, sampled speculative output equals plain sampling for the same seeds.</summary>
public sealed class CoupledSamplingTests
{
    [Theory]
    [InlineData("ngram")]
    [InlineData("eagle-tree")]
    [InlineData("eagle-tree-argmax")]
    [InlineData("eagle-chain")]
    [InlineData("eagle-chain-argmax")]
    public void Speculative_SampledCoupled_IsTokenForTokenPlainSampling(string drafterName)
    {
        var config = TransformerPresets.Tiny;
        using var model = TestModels.Peaked(config, seed: 23);
        var requests = Enumerable.Range(0, 6).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 },
            new SamplingOptions { Temperature = 0.9, TopK = 30, MaxNewTokens = 25, Seed = (ulong)(100 + i) }, GroupId: i % 2)).ToList();
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        using var eagle = new EagleDraftModel(config, seed: 3);
        using IDrafter drafter = drafterName == "ngram" ? new NGramDrafter(new NGramDrafterOptions(MaxN: 3, MinN: 1)) : new EagleDrafter(model, eagle);
        var strategy = drafterName switch
        {
            "ngram" or "eagle-chain" => SpecStrategy.ChainOf(4),
            "eagle-chain-argmax" => SpecStrategy.ChainOf(4, DraftProposal.Argmax),
            "eagle-tree-argmax" => SpecStrategy.TreeOf(3, 3, 8, DraftProposal.Argmax),
            _ => SpecStrategy.TreeOf(3, 3, 8),
        };
        var spec = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = strategy }).Generate(requests);
        Assert.True(spec.Metrics.SpeculativeSteps > 0);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, spec.Trajectories[i].ResponseTokens);
    }
}

/// <summary>
/// Reproducible draws: whatever rounding a path adds to the logits (up to the path tolerance), speculative output equals plain
/// output for the same seeds. The test makes the rounding large (5e-3 of noise, a tolerance of 1e-2) and different for the
/// two engines, so that without the canonical recomputation the outputs part.
/// </summary>
public sealed class PathToleranceTests
{
    private static Action<float[]> Noise(int seed, double size)
    {
        var random = new Random(seed);
        return logits => { for (int i = 0; i < logits.Length; i++) logits[i] += (float)((random.NextDouble() * 2 - 1) * size); };
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Speculative_UnderDifferentRounding_EqualsPlain_OnlyWithTheCanonicalRecomputation(double temperature)
    {
        // Untied head with default-width weights: flat next-token distributions, so close calls are common.
        using var model = new CausalLM(TransformerPresets.Tiny with { TieWordEmbeddings = false }, seed: 23);
        var requests = Enumerable.Range(0, 24).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 },
            new SamplingOptions { Temperature = temperature, MaxNewTokens = 48, Seed = (ulong)(100 + i) }, GroupId: i % 4)).ToList();
        using var drafter = new NGramDrafter(new NGramDrafterOptions(MaxN: 3, MinN: 1));
        List<int[]> Generate(double tolerance, bool speculative, int noiseSeed, out RolloutMetrics metrics)
        {
            var result = new RolloutEngine(model, new RolloutEngineOptions
            {
                Drafter = speculative ? drafter : null, Strategy = SpecStrategy.ChainOf(4), MaxRunningBatch = 5, PathTolerance = tolerance,
                PerturbBatchedLogits = Noise(noiseSeed, 8e-3),
            }).Generate(requests);
            metrics = result.Metrics;
            return result.Trajectories.Select(t => t.ResponseTokens).ToList();
        }
        var plain = Generate(1e-2, speculative: false, noiseSeed: 1, out var plainMetrics);
        var spec = Generate(1e-2, speculative: true, noiseSeed: 2, out var specMetrics);
        Assert.True(specMetrics.SpeculativeSteps > 0);
        Assert.True(plainMetrics.CanonicalDraws > 0 && specMetrics.CanonicalDraws > 0, "no draw was close enough to need the canonical path");
        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i], spec[i]);

        // The same two paths without the recomputation disagree somewhere: the noise is large enough to matter.
        var plainRaw = Generate(0, speculative: false, noiseSeed: 1, out _);
        var specRaw = Generate(0, speculative: true, noiseSeed: 2, out _);
        Assert.Contains(Enumerable.Range(0, requests.Count), i => !plainRaw[i].SequenceEqual(specRaw[i]));
    }
}
