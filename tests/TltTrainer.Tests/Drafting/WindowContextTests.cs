using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

public sealed class WindowContextTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Fact]
    public void Complete_RolloutWindows_EqualTheWholeSequenceExamples_AndLongContextsStayBare()
    {
        using var model = TestModels.Peaked(Config, seed: 73, std: 0.1);
        using var buffer = new HiddenStateBuffer(new HiddenStateBufferOptions(WindowTokens: 12));
        var requests = Enumerable.Range(0, 3).Select(i => new RolloutRequest(i, new[] { 1, 2 + i, 3, 4, 5 },
            new SamplingOptions { Temperature = 1, MaxNewTokens = 6 + 10 * i, Seed = (ulong)i })).ToList();
        var trajectories = new RolloutEngine(model, new RolloutEngineOptions { HiddenStateSink = buffer }).Generate(requests).Trajectories;
        var reference = DrafterTrainer.CollectExamples(model, trajectories);
        try
        {
            buffer.UseSample(10, new Random(0), windows =>
            {
                using var scope = NewDisposeScope();
                // Responses of 6, 16 and 26 tokens: the first window holds the whole response (context: the prompt but its last token),
                // the others their last 13 positions (context: the prompt and the response before the window, 7 and 17 tokens).
                var contexts = windows.Select(w => w.Context.Length).Order().ToArray();
                Assert.Equal(new[] { 4, 7, 17 }, contexts);
                var completed = WindowContext.Complete(model, windows, maxContext: 10);
                try
                {
                    foreach (var (w, c) in windows.Zip(completed))
                    {
                        // The rollout never feeds a response's last token, so a window (and its completion) ends one position before
                        // the whole-sequence example.
                        var full = reference.Single(r => r.Tokens.AsSpan(0, r.Tokens.Length - 1).EndsWith(w.Tokens));
                        if (w.Context.Length > 10)
                        {
                            Assert.Equal(w.Tokens, c.Tokens);                     // too long a context: the bare window, copied
                            Assert.Equal(w.LossStart, c.LossStart);
                            continue;
                        }
                        Assert.Equal(full.Tokens[..^1], c.Tokens);
                        Assert.Equal(Math.Max(full.LossStart, w.Context.Length), c.LossStart);   // the window's pairs: the context is only attended to
                        Models.CausalLMCacheTests.AssertClose(full.Hidden.narrow(0, 0, full.Tokens.Length - 1), c.Hidden, 1e-4);
                    }
                }
                finally { foreach (var e in completed) e.Dispose(); }
                return 0;
            });
        }
        finally { foreach (var r in reference) r.Dispose(); }
    }
}
