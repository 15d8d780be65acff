using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

public sealed class AcceptanceByPositionTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Fact]
    public void Buckets_OracleDraftsThatGoWrongLate_CountEachRoundWhereItStarted_AndAddUpToTheEngineMean()
    {
        // A drafter that knows the greedy continuation and drafts 3 tokens of it, the last one wrong from response position 12 on:
        // rounds starting before 12 accept 3 (4 tokens per round), later ones 2 (3 tokens), whatever the bucket bounds.
        using var model = TestModels.Peaked(Config, seed: 91);
        var requests = Enumerable.Range(0, 2).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3 }, SamplingOptions.Greedy(30))).ToList();
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        using var oracle = new FuncDrafter((context, row) =>
        {
            var tokens = context.Tokens[row];
            int index = tokens[1] - 2, generated = tokens.Count - context.PromptLengths[row];
            var future = plain[index].ResponseTokens.Skip(generated).Take(Math.Min(3, context.MaxDraft[row])).ToList();
            if (generated - 1 >= 12 && future.Count == 3) future[2] = (future[2] + 1) % Config.VocabSize;
            return DraftTree.Chain(future);
        });
        using var measured = new AcceptanceByPosition(oracle, new[] { 12, 24 });
        var result = new RolloutEngine(model, new RolloutEngineOptions { Drafter = measured, Strategy = SpecStrategy.ChainOf(3) }).Generate(requests);
        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);

        var buckets = measured.Buckets();
        Assert.Equal(new[] { "0-12", "12-24", "24+" }, buckets.Select(b => b.Name));
        Assert.Equal(4.0, buckets[0].TokensPerRound);                  // rounds at 0, 4, 8 of each response
        Assert.Equal(3, Math.Round(buckets[1].TokensPerRound));        // the drafted third token is wrong
        Assert.Equal(6, buckets[0].Rounds);
        // Every drafting round is counted once, with the tokens the engine counted for it.
        Assert.Equal(result.Metrics.SpeculativeRowRounds, buckets.Sum(b => b.Rounds));
        Assert.Equal(result.Metrics.AcceptLengthSum, buckets.Sum(b => b.Rounds * b.TokensPerRound), 6);
    }
}
