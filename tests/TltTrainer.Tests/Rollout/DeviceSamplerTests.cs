using TltTrainer.Rollout;
using TltTrainer.Sampling;

namespace TltTrainer.Tests.Rollout;

/// <summary>
/// The batched device draws equal the host reference (TokenDistribution, float64) token for token wherever they are robust
/// (the rest is redone on the host by the caller), with log-probabilities within 1e-5, at vocabularies of 5, 2,048 and
/// 151,936 (Qwen2.5's), for greedy, temperature, top-k and top-p rows mixed in one batch, edge cases included.
/// </summary>
public sealed class DeviceSamplerTests
{
    private static readonly SamplingOptions[] Settings =
    {
        new() { Temperature = 0 }, new() { Temperature = 1.0 }, new() { Temperature = 0.7 }, new() { Temperature = 1.0, TopK = 3 },
        new() { Temperature = 1.0, TopP = 0.9 }, new() { Temperature = 0.8, TopK = 40, TopP = 0.5 }, new() { Temperature = 1.3, TopP = 1e-6 },   // top-p reached by one token
        new() { Temperature = 1.0, TopK = 1_000_000 },                                                                  // top-k ≥ vocabulary
    };

    // Batches whose sampled rows all cut by top-k or top-p: drawn among the most likely candidates only (the fast path).
    private static readonly SamplingOptions[] RestrictedSettings =
    {
        new() { Temperature = 0 }, new() { Temperature = 1.0, TopK = 3 }, new() { Temperature = 1.0, TopP = 0.9 },
        new() { Temperature = 0.8, TopK = 40, TopP = 0.5 }, new() { Temperature = 1.3, TopP = 1e-6 }, new() { Temperature = 1.0, TopK = 50 },
        new() { Temperature = 0.6, TopP = 0.999 },                                                                     // cut often beyond the candidates
    };

    [Theory]
    [InlineData(5, 400, false)]
    [InlineData(2048, 64, false)]
    [InlineData(151_936, 8, false)]
    [InlineData(5, 400, true)]
    [InlineData(2048, 64, true)]
    [InlineData(151_936, 14, true)]
    public void Draw_EqualsTheHostReference_WhereRobust(int vocab, int rows, bool restrictedOnly)
    {
        var settings = restrictedOnly ? RestrictedSettings : Settings;
        var random = new Random(vocab);
        // Logits of LM-like spread, with exact ties at a coarse grid in every fourth row (ties at cuts, greedy ties).
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++)
            logits[i] = (i / vocab) % 4 == 0 ? (float)(Math.Round(random.NextDouble() * 8) / 2) : (float)(random.NextDouble() * random.NextDouble() * 12);
        var requests = Enumerable.Range(0, rows).Select(r => new DrawRequest(settings[r % settings.Length], new SamplingNoise((ulong)r, 7 + r))).ToList();
        using var tensorLogits = tensor(logits, new long[] { rows, vocab });
        var draws = DeviceSampler.Draw(tensorLogits, requests, tolerance: 1e-4);

        int robust = 0;
        for (int r = 0; r < rows; r++)
        {
            var host = TokenDistribution.FromLogits(logits.AsSpan(r * vocab, vocab), requests[r].Options);
            Assert.True(draws.Finite[r]);
            if (!draws.Robust[r]) continue;
            robust++;
            int expected = host.Sample(requests[r].Noise);
            Assert.True(expected == draws.Tokens[r], $"row {r} ({requests[r].Options}): device {draws.Tokens[r]}, host {expected}");
            Assert.True(Math.Abs(host.LogProb(expected) - draws.LogProbs[r]) <= 1e-5, $"row {r}: log-prob {draws.LogProbs[r]} vs host {host.LogProb(expected)}");
        }
        if (!restrictedOnly)
        {
            Assert.True(robust >= rows / 2, $"only {robust} of {rows} draws were robust");
            return;
        }
        // The candidates path decides as many draws on the device as the whole-vocabulary path (forced here by one more row
        // that samples from the whole vocabulary), and the same tokens.
        using var wide = tensor(logits.Concat(logits.Take(vocab)).ToArray(), new long[] { rows + 1, vocab });
        var full = DeviceSampler.Draw(wide, requests.Append(new DrawRequest(new SamplingOptions { Temperature = 1.0 }, new SamplingNoise(99, 1))).ToList(), 1e-4);
        int fullRobust = Enumerable.Range(0, rows).Count(r => full.Robust[r]);
        Assert.True(robust >= fullRobust - rows / 20, $"{robust} robust draws among the candidates, {fullRobust} over the whole vocabulary");
        for (int r = 0; r < rows; r++)
            if (draws.Robust[r] && full.Robust[r]) Assert.Equal(full.Tokens[r], draws.Tokens[r]);
    }

    [Theory]
    [InlineData(19, 6, false)]
    [InlineData(2048, 4, false)]
    [InlineData(2048, 4, true)]
    public void ChainShortcut_DrawsTheTokensDrawMakes_AtEveryDepth(int vocab, int depth, bool reducedColumns)
    {
        // A chain drafter's shortcut (noise of every depth at once, then only the Gumbel-max) must propose what Draw at
        // tolerance 0 would, position by position: greedy and sampled rows at several temperatures, ties in every fourth row,
        // and a reduced draft vocabulary whose columns draw with their target ids' noise.
        var settings = new[] { new SamplingOptions { Temperature = 0 }, new() { Temperature = 1.0 }, new() { Temperature = 0.6 }, new() { Temperature = 1.7 } };
        const int rows = 9;
        var random = new Random(vocab + depth);
        int columns = reducedColumns ? vocab / 4 : vocab;
        using var columnIds = reducedColumns ? tensor(Enumerable.Range(0, columns).Select(c => (long)(c * 4 + 1)).ToArray()) : null;
        var first = Enumerable.Range(0, rows).Select(r => new DrawRequest(settings[r % settings.Length], new SamplingNoise((ulong)(r + 3), 11 + 5 * r))).ToList();
        Assert.True(DeviceSampler.ChainShortcutApplies(first, depth, columns));
        using var noise = DeviceSampler.ChainGumbel(first, depth, columns, CPU, columnIds);
        Assert.Equal(new long[] { rows, depth, columns }, noise.shape);
        for (int i = 0; i < depth; i++)
        {
            var logits = new float[rows * columns];
            for (int k = 0; k < logits.Length; k++)
                logits[k] = (k / columns) % 4 == 0 ? (float)(Math.Round(random.NextDouble() * 6) / 2) : (float)(random.NextDouble() * random.NextDouble() * 12);
            using var t = tensor(logits, new long[] { rows, columns });
            var atDepth = first.Select(r => r with { Noise = r.Noise.After(i) }).ToList();
            var expected = DeviceSampler.Draw(t, atDepth, tolerance: 0, columnIds).Tokens;
            using var slice = noise.select(1, i);
            Assert.Equal(expected, DeviceSampler.GumbelMax(t, slice, first, columnIds));
        }
    }

    [Fact]
    public void ChainShortcut_DoesNotApply_ToTopKOrTopPRows_OrTooMuchNoise()
    {
        var plain = new DrawRequest(new SamplingOptions { Temperature = 1.0 }, new SamplingNoise(1, 1));
        Assert.True(DeviceSampler.ChainShortcutApplies(new[] { plain }, 6, 100));
        Assert.False(DeviceSampler.ChainShortcutApplies(new[] { plain, plain with { Options = new SamplingOptions { Temperature = 1.0, TopK = 5 } } }, 6, 100));
        Assert.False(DeviceSampler.ChainShortcutApplies(new[] { plain with { Options = new SamplingOptions { Temperature = 1.0, TopP = 0.9 } } }, 6, 100));
        Assert.False(DeviceSampler.ChainShortcutApplies(Enumerable.Repeat(plain, 64).ToList(), 8, 151_936));
    }

    [Fact]
    public void Draw_TopPRowsBeyondTheCandidates_AreDrawnOverTheWholeVocabulary()
    {
        // Near-flat rows (a random-weight model's): top-p 0.95 keeps most of the 151,936 tokens, far past the candidates.
        // With tolerance 0 every draw counts, so each must equal the host reference's.
        const int vocab = 151_936, rows = 4;
        var random = new Random(3);
        var logits = Enumerable.Range(0, rows * vocab).Select(_ => (float)(random.NextDouble() * 0.5)).ToArray();
        var requests = Enumerable.Range(0, rows).Select(r => new DrawRequest(new SamplingOptions { Temperature = 1.0, TopP = 0.95, TopK = r % 2 == 0 ? 0 : 50 },
            new SamplingNoise((ulong)r, 11))).ToList();
        using var tensorLogits = tensor(logits, new long[] { rows, vocab });
        long before = DeviceSampler.WidePasses;
        var draws = DeviceSampler.Draw(tensorLogits, requests, tolerance: 0);
        Assert.True(DeviceSampler.WidePasses > before, "the candidates sufficed: the test does not reach the whole-vocabulary pass");
        for (int r = 0; r < rows; r++)
        {
            var host = TokenDistribution.FromLogits(logits.AsSpan(r * vocab, vocab), requests[r].Options);
            Assert.Equal(host.Sample(requests[r].Noise), draws.Tokens[r]);
            Assert.True(Math.Abs(host.LogProb(draws.Tokens[r]) - draws.LogProbs[r]) <= 1e-5);
        }
    }

    [Fact]
    public void Draw_NonFiniteRow_IsFlagged()
    {
        using var logits = tensor(new[] { 0f, 1f, 2f, float.NaN, 0f, 1f }, new long[] { 2, 3 });
        var draws = DeviceSampler.Draw(logits, new[] { new DrawRequest(new SamplingOptions(), new SamplingNoise(1, 1)), new DrawRequest(new SamplingOptions(), new SamplingNoise(2, 1)) }, 1e-4);
        Assert.Equal(new[] { true, false }, draws.Finite);
    }
}
