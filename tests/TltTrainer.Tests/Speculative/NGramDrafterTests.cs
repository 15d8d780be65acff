using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

/// <summary>Matching rules of the n-gram drafter: longest match first, own text and recency break ties, draft length follows match length.</summary>
public sealed class NGramDrafterTests
{
    private static readonly IReadOnlyList<IReadOnlyList<int>> NoSiblings = Array.Empty<IReadOnlyList<int>>();

    [Fact]
    public void FindContinuations_SiblingWithLongerMatch_WinsOverRecentShortOwnMatch()
    {
        var drafter = new NGramDrafter();
        // Own text repeats the suffix "13 14" once (a 2-token match); the sibling wrote the whole "10 11 12 13 14".
        int[] own = { 30, 13, 14, 99, 98, 10, 11, 12, 13, 14 };
        int[] sibling = { 10, 11, 12, 13, 14, 20, 21, 22 };

        var found = drafter.FindContinuations(own, new[] { sibling }, depth: 3, count: 2);

        Assert.Equal(new[] { 20, 21, 22 }, found[0]);
        Assert.Equal(new[] { 99, 98 }, found[1]);          // the own match drafts at most its length (2 tokens)
    }

    [Fact]
    public void FindContinuations_EqualMatches_PreferOwnTextThenTheMostRecent()
    {
        var drafter = new NGramDrafter();
        int[] own = { 1, 2, 50, 1, 2, 60, 1, 2 };
        int[] sibling = { 1, 2, 70 };

        Assert.Equal(new[] { 60 }, drafter.FindContinuations(own, new[] { sibling }, depth: 1, count: 1)[0]);
        Assert.Equal(new[] { 70 }, drafter.FindContinuations(new[] { 9, 1, 2 }, new[] { sibling }, depth: 1, count: 1)[0]);
    }

    [Fact]
    public void FindContinuations_DraftLength_ScalesWithMatchLength()
    {
        int[] own = { 1, 2, 7, 6, 5, 4, 3, 9, 1, 2 };
        var proportional = new NGramDrafter().FindContinuations(own, NoSiblings, depth: 5, count: 1);
        var full = new NGramDrafter(new NGramDrafterOptions(DraftPerMatchedToken: double.PositiveInfinity)).FindContinuations(own, NoSiblings, depth: 5, count: 1);

        Assert.Equal(new[] { 7, 6 }, proportional[0]);
        Assert.Equal(new[] { 7, 6, 5, 4, 3 }, full[0]);
    }

    [Fact]
    public void Propose_NoMatch_DraftsNothing()
    {
        using var drafter = new NGramDrafter();
        var trees = drafter.Propose(Context(new[] { 1, 2, 3, 4, 5 }, NoSiblings, SpecStrategy.ChainOf(4)));
        Assert.Equal(0, trees[0].Count);
    }

    [Fact]
    public void Options_InvalidDraftPerMatchedToken_ThrowsNamingTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new NGramDrafter(new NGramDrafterOptions(DraftPerMatchedToken: 0)));
        Assert.Contains("DraftPerMatchedToken", e.Message);
    }

    [Fact]
    public void Generate_GroupAtRunningBatchOne_LaterSiblingsCopyTheFinishedOnes()
    {
        // A GRPO group decoded one response at a time (the long tail): greedy siblings write the same text, so once the
        // first has finished the others are drafted almost entirely from it, and the output stays exact.
        var config = TransformerPresets.Tiny;
        using var model = TestModels.Peaked(config, seed: 21);
        var requests = Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, new[] { 1, 5, 9 }, SamplingOptions.Greedy(40), GroupId: 7)).ToList();
        var plain = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = 1 }).Generate(requests).Trajectories;
        using var drafter = new NGramDrafter();

        var result = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = 1, Drafter = drafter, Strategy = SpecStrategy.ChainOf(8) }).Generate(requests);

        for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
        foreach (var sibling in result.Trajectories.Skip(1))
        {
            Assert.Equal(sibling.DraftedTokens, sibling.AcceptedTokens);
            Assert.True(sibling.VerifyRounds <= 6, $"sibling {sibling.RequestId} took {sibling.VerifyRounds} rounds for {sibling.ResponseTokens.Length} tokens");
        }
    }

    private static DraftContext Context(int[] tokens, IReadOnlyList<IReadOnlyList<int>> siblings, SpecStrategy strategy) => new()
    {
        Rows = 1,
        Tokens = new[] { tokens },
        PromptLengths = new[] { 1 },
        Sampling = new[] { SamplingOptions.Greedy(100) },
        Rngs = new[] { new RequestRng(1) },
        Siblings = new[] { siblings },
        Strategy = strategy,
        MaxDraft = new[] { 100 },
    };
}
