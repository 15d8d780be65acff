using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

public sealed class HiddenStateBufferTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Capture_FromRollout_EqualsFullForwardHiddenOfTheWindow(bool speculative)
    {
        using var model = TestModels.Peaked(Config, seed: 71, std: 0.1);
        using var buffer = new HiddenStateBuffer(new HiddenStateBufferOptions(WindowTokens: 12));
        using var eagle = new EagleDraftModel(Config, seed: 1);
        using var drafter = new EagleDrafter(model, eagle);
        buffer.CurrentStep = 5;
        var requests = Enumerable.Range(0, 3).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3, 4 },
            new SamplingOptions { Temperature = 1, MaxNewTokens = 8 + 10 * i, Seed = (ulong)i })).ToList();
        var trajectories = new RolloutEngine(model, new RolloutEngineOptions
        {
            HiddenStateSink = buffer, Drafter = speculative ? drafter : null, Strategy = SpecStrategy.ChainOf(3),
        }).Generate(requests).Trajectories;
        Assert.Equal(0, buffer.Commit());                       // finished sequences were committed as they ended
        Assert.Equal(3, buffer.Count);

        var reference = DrafterTrainer.CollectExamples(model, trajectories);
        buffer.UseSample(10, new Random(0), windows =>
        {
            using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
            Assert.Equal(3, windows.Count);
            foreach (var w in windows)
            {
                Assert.True(w.Tokens.Length <= 13, $"window of {w.Tokens.Length} positions exceeds W + 1");
                Assert.Equal(5, w.Step);
                var full = reference.Single(r => EndsWithWindow(r.Tokens, w.Tokens));
                int offset = IndexOf(full.Tokens, w.Tokens);
                Models.CausalLMCacheTests.AssertClose(full.Hidden.narrow(0, offset, w.Tokens.Length), w.Hidden, 1e-4);
                Assert.Equal(Math.Max(0, full.LossStart - offset), w.LossStart);
            }
            return 0;
        });
        foreach (var r in reference) r.Dispose();
    }

    [Fact]
    public void Commit_ManySteps_NeverExceedsByteBudgetAndSamplesRecentSteps()
    {
        using var model = TestModels.Peaked(Config, seed: 72);
        long budget = 40 * 32 * 4 * 6;                        // about six 40-position windows of width 32
        using var buffer = new HiddenStateBuffer(new HiddenStateBufferOptions(WindowTokens: 40, MaxBytes: budget, RecentSteps: 2));
        var engine = new RolloutEngine(model, new RolloutEngineOptions { HiddenStateSink = buffer });
        for (int step = 0; step < 6; step++)
        {
            buffer.CurrentStep = step;
            engine.Generate(Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, new[] { 1, 2, i },
                new SamplingOptions { MaxNewTokens = 50, Seed = (ulong)(step * 10 + i) })).ToList());
            buffer.Commit();
            Assert.True(buffer.Bytes <= budget, $"step {step}: {buffer.Bytes} bytes > budget {budget}");
        }
        var steps = buffer.UseSample(100, new Random(1), ws => ws.Select(w => w.Step).Distinct().ToList());
        Assert.All(steps, s => Assert.True(s >= 4, $"sampled a window from step {s}"));
    }

    private static bool EndsWithWindow(int[] full, int[] window) => IndexOf(full, window) >= 0;

    private static int IndexOf(int[] full, int[] window)
    {
        for (int i = full.Length - window.Length; i >= 0; i--)
            if (full.AsSpan(i, window.Length).SequenceEqual(window)) return i;
        return -1;
    }
}
