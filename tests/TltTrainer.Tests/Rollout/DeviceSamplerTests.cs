using TltTrainer.Rollout;

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

    [Theory]
    [InlineData(5, 400)]
    [InlineData(2048, 64)]
    [InlineData(151_936, 8)]
    public void Draw_EqualsTheHostReference_WhereRobust(int vocab, int rows)
    {
        var random = new Random(vocab);
        // Logits of LM-like spread, with exact ties at a coarse grid in every fourth row (ties at cuts, greedy ties).
        var logits = new float[rows * vocab];
        for (int i = 0; i < logits.Length; i++)
            logits[i] = (i / vocab) % 4 == 0 ? (float)(Math.Round(random.NextDouble() * 8) / 2) : (float)(random.NextDouble() * random.NextDouble() * 12);
        var requests = Enumerable.Range(0, rows).Select(r => new DrawRequest(Settings[r % Settings.Length], new SamplingNoise((ulong)r, 7 + r))).ToList();
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
        Assert.True(robust >= rows / 2, $"only {robust} of {rows} draws were robust");
    }

    [Fact]
    public void Draw_NonFiniteRow_IsFlagged()
    {
        using var logits = tensor(new[] { 0f, 1f, 2f, float.NaN, 0f, 1f }, new long[] { 2, 3 });
        var draws = DeviceSampler.Draw(logits, new[] { new DrawRequest(new SamplingOptions(), new SamplingNoise(1, 1)), new DrawRequest(new SamplingOptions(), new SamplingNoise(2, 1)) }, 1e-4);
        Assert.Equal(new[] { true, false }, draws.Finite);
    }
}
