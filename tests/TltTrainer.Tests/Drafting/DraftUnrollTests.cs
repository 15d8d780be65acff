using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Speculative;

namespace TltTrainer.Tests.Drafting;

/// <summary>Unrolled drafter training sees exactly what chain drafting sees (reference: the drafter stepped with a KV cache).</summary>
public sealed class DraftUnrollTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UnrolledSegments_EqualChainDraftingWithACache(bool packed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var drafter = new EagleDraftModel(Config, seed: 7);
        const int T = 9, Steps = 3;
        using var generator = new Generator(11);
        var embeds = randn(new long[] { 1, T, Config.HiddenSize }, generator: generator);
        var hidden = randn(new long[] { 1, T, Config.HiddenSize }, generator: generator);
        // Packed: two samples (pairs 0-3 and 4-8), positions restarting at the second; else one sample.
        long[] pos = packed ? new long[] { 0, 1, 2, 3, 0, 1, 2, 3, 4 } : Enumerable.Range(0, T).Select(i => (long)i).ToArray();
        int[] sampleStart = pos.Select((p, i) => i - (int)p).ToArray();
        var positions = tensor(pos, new long[] { 1, T });
        var (mask1, _) = DraftUnroll.Build(positions, 1, CPU);

        // Segment s's output at pair i, computed the way training computes it.
        var segments = new List<Tensor> { drafter.Forward(embeds, hidden, null, 0, positions, mask1) };
        for (int s = 2; s <= Steps; s++)
        {
            var features = new List<Tensor> { hidden };
            for (int k = 1; k < s; k++) features.Add(DraftUnroll.ShiftFeatures(segments[k - 1]));
            var (mask, valid) = DraftUnroll.Build(positions, s, CPU);
            var output = drafter.Forward(cat(Enumerable.Repeat(embeds, s).ToList(), 1), cat(features, 1), null, 0,
                cat(Enumerable.Repeat(positions, s).ToList(), 1), mask);
            segments.Add(output.narrow(1, (s - 1) * T, T));
            for (int i = 0; i < T; i++) Assert.Equal(i - (s - 1) >= sampleStart[i] ? 1f : 0f, valid[0, i].item<float>());
        }

        // Reference: for every chain start t, the drafter consumes its sample's true pairs up to t into a cache, then steps on its own features.
        for (int t = 0; t < T; t++)
        {
            int start = sampleStart[t];
            using var cache = new KvCache(drafter.Config, 1, T + Steps, ScalarType.Float32);
            int n = t - start + 1;
            var prefix = drafter.Forward(embeds.narrow(1, start, n), hidden.narrow(1, start, n), cache, 0, positions.narrow(1, start, n));
            var feature = prefix.narrow(1, n - 1, 1);
            Models.CausalLMCacheTests.AssertClose(segments[0].narrow(1, t, 1), feature, 1e-5);
            for (int s = 2; s <= Steps && t + s - 1 < T && sampleStart[t + s - 1] == start; s++)
            {
                int i = t + s - 1;
                feature = drafter.Forward(embeds.narrow(1, i, 1), feature, cache, 0, positions.narrow(1, i, 1));
                Models.CausalLMCacheTests.AssertClose(segments[s - 1].narrow(1, i, 1), feature, 1e-5);
            }
        }
    }

    [Fact]
    public void LearningRate_WarmupThenCosineToTheFloor_AndRestartStartsOver()
    {
        using var target = new CausalLM(Config, seed: 1);
        using var model = new EagleDraftModel(Config, seed: 2);
        using var trainer = new DrafterTrainer(target, model, new DrafterTrainingOptions { LearningRate = 1e-3, WarmupSteps = 4, DecaySteps = 10, MinLearningRateRatio = 0.1 });
        Assert.Equal(0.25e-3, trainer.LearningRate(0), 12);
        Assert.Equal(1e-3, trainer.LearningRate(3), 12);
        Assert.Equal(1e-3, trainer.LearningRate(4), 12);                       // decay starts after the warm-up
        Assert.Equal(0.55e-3, trainer.LearningRate(9), 12);                    // half-way: the mean of peak and floor
        Assert.Equal(0.1e-3, trainer.LearningRate(14), 12);
        Assert.Equal(0.1e-3, trainer.LearningRate(100), 12);                   // and stays there
    }
}
