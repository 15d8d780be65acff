using TltTrainer.Rl;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rl;

public sealed class RewardAndDataTests
{
    private sealed class Throwing : IRewardFunction
    {
        public string Name => "flaky";
        public double Score(RewardInput input) => input.SampleId == 3 ? throw new InvalidOperationException("boom") : 1;
    }

    private sealed class NaNReward : IRewardFunction
    {
        public string Name => "nan";
        public double Score(RewardInput input) => double.NaN;
    }

    [Fact]
    public void Composer_WeightsAndComponents()
    {
        var composer = new RewardComposer(new[] { new WeightedReward(new MathAnswerReward(), 1), new WeightedReward(new FormatReward(@"\\boxed\{"), 0.5) });
        var (totals, components) = composer.Score(new[] { new RewardInput(0, "p", @"so \boxed{4}", "4"), new RewardInput(1, "p", "it is 5", "4") });
        Assert.Equal(new[] { 1.5, 0 }, totals);
        Assert.Equal(new[] { 1.0, 1 }, components[0]);
    }

    [Fact]
    public void Composer_FunctionThrows_ErrorNamesFunctionAndSample()
    {
        var composer = new RewardComposer(new[] { new WeightedReward(new Throwing()) });
        var inputs = Enumerable.Range(0, 5).Select(i => new RewardInput(i, $"prompt {i}", $"response {i}", null)).ToList();
        var e = Assert.Throws<RewardException>(() => composer.Score(inputs));
        Assert.Contains("'flaky'", e.Message);
        Assert.Contains("sample 3", e.Message);
        Assert.Contains("response 3", e.Message);
        Assert.Contains("boom", e.Message);
    }

    [Fact]
    public void Composer_NaN_IsAnErrorNotAZero()
    {
        var composer = new RewardComposer(new[] { new WeightedReward(new NaNReward()) });
        var e = Assert.Throws<RewardException>(() => composer.Score(new[] { new RewardInput(9, "p", "r", null) }));
        Assert.Contains("NaN", e.Message);
        Assert.Contains("sample 9", e.Message);
    }

    [Theory]
    [InlineData(@"The answer is \boxed{3/4}.", "0.75", 1)]
    [InlineData("The answer is 1,234.", "1234", 1)]
    [InlineData(@"\boxed{\frac{1}{2}} hmm", @"\frac{1}{2}", 1)]
    [InlineData("first 3 then 7", "7", 1)]
    [InlineData("first 3 then 7", "3", 0)]
    [InlineData("$ 12.0 $", "12", 1)]
    [InlineData("no number", "1", 0)]
    public void MathAnswer_Cases(string response, string reference, double expected) =>
        Assert.Equal(expected, new MathAnswerReward().Score(new RewardInput(0, "", response, reference)));

    [Fact]
    public void Jsonl_ReadsPromptsAndNumericAnswers_ErrorsNameLine()
    {
        using var dir = new TempDirectory();
        var good = dir.Write("good.jsonl", "{\"prompt\":\"1+1=\",\"answer\":2}\n\n{\"prompt\":\"x\",\"answer\":\"y\"}\n{\"prompt\":\"z\"}\n");
        var examples = JsonlPromptReader.Read(good);
        Assert.Equal(new[] { new PromptExample("1+1=", "2"), new PromptExample("x", "y"), new PromptExample("z", null) }, examples);
        var bad = dir.Write("bad.jsonl", "{\"prompt\":\"ok\"}\n{\"prompt\": 5}\n");
        var e = Assert.Throws<InvalidDataException>(() => JsonlPromptReader.Read(bad));
        Assert.Contains("bad.jsonl:2", e.Message);
        var broken = dir.Write("broken.jsonl", "{\"prompt\":\"ok\"\n");
        Assert.Contains("broken.jsonl:1", Assert.Throws<InvalidDataException>(() => JsonlPromptReader.Read(broken)).Message);
    }

    [Fact]
    public void Sampler_ResumedFromState_ContinuesIdentically()
    {
        var examples = Enumerable.Range(0, 7).Select(i => new PromptExample($"p{i}", null)).ToList();
        var straight = new PromptSampler(examples, 42);
        var first = straight.Next(5);
        var state = straight.State;
        var rest = straight.Next(12);
        var resumed = new PromptSampler(examples, 42, state).Next(12);
        Assert.Equal(rest, resumed);
        Assert.Equal(7, first.Concat(rest.Take(2)).Distinct().Count());     // an epoch draws each prompt once
    }

    [Fact]
    public void PromptLength_RejectNamesLengths_TruncateKeepsTheEnd()
    {
        var tokens = Enumerable.Range(0, 10).ToList();
        var e = Assert.Throws<ArgumentException>(() => PromptLength.Apply(tokens, 6, OverlongPromptPolicy.Reject, "a long prompt"));
        Assert.Contains("10 tokens", e.Message);
        Assert.Contains("6 allowed", e.Message);
        Assert.Equal(new[] { 4, 5, 6, 7, 8, 9 }, PromptLength.Apply(tokens, 6, OverlongPromptPolicy.TruncateLeft, "p"));
    }
}
