using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

public sealed class DraftVocabularyTests
{
    [Fact]
    public void MostFrequent_KeepsTheCommonestIds_TiesToTheLowerId_PlusTheAlwaysKept_AndMapsBothWays()
    {
        var tokens = new[] { 5, 5, 5, 2, 2, 7, 7, 9, 1 };
        var vocabulary = DraftVocabulary.MostFrequent(tokens, size: 3, targetVocabulary: 12, always: new[] { 11 });
        Assert.Equal(new[] { 2, 5, 7, 11 }, vocabulary.TargetIds);               // 5 (3), then 2 and 7 (2 each); 11 always
        for (int d = 0; d < vocabulary.Size; d++) Assert.Equal(d, vocabulary.ToDraft(vocabulary.ToTarget(d)));
        Assert.Equal(-1, vocabulary.ToDraft(9));
        Assert.Equal(-1, vocabulary.ToDraft(-3));
    }

    [Fact]
    public void Constructor_BadIds_AreRefusedNamingThem()
    {
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => new DraftVocabulary(new[] { 1, 12 }, 12)).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => new DraftVocabulary(new[] { 3, 3 }, 12)).Message);
        Assert.Throws<ArgumentException>(() => new DraftVocabulary(Array.Empty<int>(), 12));
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        using var eagle = new EagleDraftModel(model.Config, seed: 2);
        using var drafter = new EagleDrafter(model, eagle);
        Assert.Throws<ArgumentException>(() => drafter.Vocabulary = new DraftVocabulary(new[] { 1 }, model.Config.VocabSize + 1));
    }

    public static TheoryData<string, double> Cases() => new()
    {
        { "chain", 0.0 }, { "chain", 1.0 }, { "tree", 1.0 }, { "chain-argmax", 1.0 }, { "chain-rejection", 1.0 },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Proposals_NeverLeaveTheSubset_AndCoupledOutputEqualsPlain(string shape, double temperature)
    {
        var config = TransformerPresets.Tiny;
        using var model = TestModels.Peaked(config, seed: 61, std: 0.1);
        using var eagle = new EagleDraftModel(config, seed: 62);
        var requests = Enumerable.Range(0, 6).Select(i => new RolloutRequest(i, new[] { 1, 3 + i, 5 },
            new SamplingOptions { Temperature = temperature, MaxNewTokens = 30, Seed = (ulong)(200 + i) }, GroupId: i % 2)).ToList();
        var plain = new RolloutEngine(model).Generate(requests).Trajectories;
        // The subset: the tokens plain decoding emits most, so that drafts are often right; half the vocabulary stays out.
        var vocabulary = DraftVocabulary.MostFrequent(plain.SelectMany(t => t.ResponseTokens), config.VocabSize / 2, config.VocabSize);
        using var inner = new EagleDrafter(model, eagle) { Vocabulary = vocabulary };
        var proposed = new List<int>();
        using var drafter = new RecordingDrafter(inner, proposed);
        var strategy = shape switch
        {
            "tree" => SpecStrategy.TreeOf(3, 3, 8),
            "chain-argmax" => SpecStrategy.ChainOf(4, DraftProposal.Argmax),
            "chain-rejection" => SpecStrategy.ChainOf(4, DraftProposal.Rejection),
            _ => SpecStrategy.ChainOf(4),
        };
        var result = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = strategy }).Generate(requests);
        Assert.Empty(result.Metrics.DrafterFailures);
        Assert.NotEmpty(proposed);
        Assert.All(proposed, t => Assert.True(vocabulary.ToDraft(t) >= 0, $"token {t} is outside the draft vocabulary"));
        if (shape != "chain-rejection")
            for (int i = 0; i < requests.Count; i++) Assert.Equal(plain[i].ResponseTokens, result.Trajectories[i].ResponseTokens);
    }

    /// <summary>Passes everything to <paramref name="inner"/> and records the tokens it proposes.</summary>
    private sealed class RecordingDrafter(IDrafter inner, List<int> proposed) : IDrafter
    {
        public string Name => inner.Name;
        public void Begin(int rows, int maxLength) => inner.Begin(rows, maxLength);
        public void ResetRow(int row) => inner.ResetRow(row);
        public void MoveRow(int from, int to) => inner.MoveRow(from, to);
        public void Observe(int row, int start, Tensor hidden) => inner.Observe(row, start, hidden);
        public void ObserveStep(IReadOnlyList<int> positions, Tensor hidden) => inner.ObserveStep(positions, hidden);
        public void Dispose() { }

        public IReadOnlyList<DraftTree> Propose(DraftContext context)
        {
            var trees = inner.Propose(context);
            foreach (var t in trees) proposed.AddRange(t.Tokens);
            return trees;
        }
    }
}
