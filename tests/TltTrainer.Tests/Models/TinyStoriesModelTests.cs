using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tokenization;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Models;

/// <summary>A real model trained by others (TinyStories-656K in ../shared/models) loads and behaves like a language model.</summary>
public sealed class TinyStoriesModelTests
{
    private const string Bf16 = "tinystories-656k";
    private const string Fp32LmHeadOnly = "tinystories-656k-fp32-lmhead-only";

    internal const string Paragraph = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine. "
        + "One day, she saw a big red ball in the park. She ran to the ball and picked it up. Lily was very happy. "
        + "She played with the ball all day long. When the sun went down, she went home to her mom.";

    internal static ITextTokenizer Tokenizer(string dir) => TokenizerLoader.FromDirectory(dir,
        new TokenizerLoadOptions { EncodeDefaults = new EncodeOptions { AddBos = true, AddPrefixSpace = false } });

    [SharedModelFact(Bf16)]
    public void Perplexity_StoryParagraph_IsAtMost8Point2()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var dir = SharedModels.GetPath(Bf16);
        using var model = HfCheckpoint.Load(dir);
        var ids = Tokenizer(dir).Encode(Paragraph);
        Assert.Equal(1, ids[0]);
        Assert.NotEqual(80, ids[1]);                            // no leading "▁" token
        double ppl = Perplexity(model, ids);
        Assert.True(ppl <= 8.2, $"perplexity {ppl:F2} > 8.2");
        Assert.True(ppl > 2, $"perplexity {ppl:F2} is implausibly low");
    }

    [SharedModelFact(Fp32LmHeadOnly)]
    public void BothLayouts_LoadToIdenticalLogits()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var a = HfCheckpoint.Load(SharedModels.GetPath(Bf16));
        using var b = HfCheckpoint.Load(SharedModels.GetPath(Fp32LmHeadOnly));
        var ids = Tokenizer(SharedModels.GetPath(Bf16)).Encode(Paragraph);
        using var noGrad = no_grad();
        using var tokens = tensor(ids.Select(x => (long)x).ToArray()).view(1, -1);
        using var la = a.Forward(tokens);
        using var lb = b.Forward(tokens);
        CausalLMCacheTests.AssertClose(la.Logits!, lb.Logits!, 1e-5);
    }

    [SharedModelFact(Bf16)]
    public void GreedyContinuation_OnceUponATime_IsStoryEnglish()
    {
        using var testScope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var dir = SharedModels.GetPath(Bf16);
        using var model = HfCheckpoint.Load(dir);
        var tokenizer = Tokenizer(dir);
        var prompt = tokenizer.Encode("Once upon a time,");
        var result = new RolloutEngine(model).Generate(new[] { new RolloutRequest(0, prompt, SamplingOptions.Greedy(40, new HashSet<int> { 2 })) });
        string text = tokenizer.Decode(result.Trajectories[0].ResponseTokens);
        var words = text.Split(new[] { ' ', '.', ',', '!', '\n', '"', '\'' }, StringSplitOptions.RemoveEmptyEntries);
        var common = new HashSet<string> { "there", "was", "a", "the", "and", "he", "she", "little", "big", "to", "of", "his", "her", "in", "it", "with", "named", "day", "very", "they" };
        Assert.True(words.Length >= 15, $"too few words: '{text}'");
        Assert.True(words.Count(w => common.Contains(w.ToLowerInvariant())) >= 8, $"not story English: '{text}'");
        Assert.True(words.All(w => w.All(c => char.IsLetter(c) || c == '-')), $"non-words in: '{text}'");
        // Fluent text is what the model itself finds likely.
        Assert.True(Perplexity(model, prompt.Concat(result.Trajectories[0].ResponseTokens).ToList()) < 4, $"'{text}'");
    }

    internal static double Perplexity(CausalLM model, IReadOnlyList<int> ids)
    {
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        using var noGrad = no_grad();
        using var tokens = tensor(ids.Select(x => (long)x).ToArray()).view(1, -1);
        using var output = model.Forward(tokens);
        using var logp = nn.functional.log_softmax(output.Logits![0].narrow(0, 0, ids.Count - 1), -1);
        using var next = tokens[0].narrow(0, 1, ids.Count - 1).unsqueeze(1);
        using var picked = logp.gather(1, next);
        return Math.Exp(-picked.mean().item<float>());
    }
}
