using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Speculative;

/// <summary>The EAGLE drafter's batched per-step observation must leave it exactly as per-row observation does.</summary>
public sealed class EagleObserveStepTests
{
    [Fact]
    public void ObserveStep_Batched_ProposesExactlyWhatPerRowObservationProposes()
    {
        using var scope = NewDisposeScope();
        var config = TransformerPresets.Tiny;
        using var model = TestModels.Peaked(config, seed: 91);
        using var weights = new EagleDraftModel(config, seed: 3);
        using var batched = new EagleDrafter(model, weights);
        using var perRow = new EagleDrafter(model, weights);
        const int Rows = 3, Steps = 6;
        batched.Begin(Rows, 64);
        perRow.Begin(Rows, 64);
        var tokens = Enumerable.Range(0, Rows).Select(r => new List<int> { 1 + r }).ToArray();
        var generator = new Random(5);
        for (int step = 0; step < Steps; step++)
        {
            var hidden = randn(Rows, config.HiddenSize);
            var positions = tokens.Select(t => t.Count - 1).ToArray();
            batched.ObserveStep(positions, hidden);
            for (int r = 0; r < Rows; r++) perRow.Observe(r, positions[r], hidden.narrow(0, r, 1));
            foreach (var t in tokens) t.Add(generator.Next(config.VocabSize));
        }
        var context = new DraftContext
        {
            Rows = Rows,
            Tokens = tokens,
            PromptLengths = Enumerable.Repeat(1, Rows).ToList(),
            Sampling = Enumerable.Repeat(SamplingOptions.Greedy(32), Rows).ToList(),
            Rngs = Enumerable.Range(0, Rows).Select(r => new RequestRng((ulong)r)).ToList(),
            Siblings = Enumerable.Range(0, Rows).Select(_ => (IReadOnlyList<IReadOnlyList<int>>)Array.Empty<IReadOnlyList<int>>()).ToList(),
            Strategy = SpecStrategy.ChainOf(4, sample: false),
            MaxDraft = Enumerable.Repeat(8, Rows).ToList(),
        };
        var a = batched.Propose(context);
        var b = perRow.Propose(context);
        for (int r = 0; r < Rows; r++) Assert.Equal(b[r].Tokens, a[r].Tokens);
        Assert.All(a, t => Assert.Equal(4, t.Count));
    }
}
