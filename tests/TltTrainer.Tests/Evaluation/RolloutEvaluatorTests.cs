using TltTrainer.Evaluation;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Evaluation;

/// <summary>The held-out evaluator on the embedded target: the same verdicts as TaskEvaluator, and speculation changes no token.</summary>
[Collection("embedded")]
public sealed class RolloutEvaluatorTests(EmbeddedFixture fixture)
{
    private static readonly ChainArithmeticTextTokenizer Tokenizer = ChainArithmeticTextTokenizer.Instance;

    private static bool IsCorrect(string response, string? answer) => answer is not null && ChainArithmeticTask.IsCorrect(response, answer);

    // Chains of up to 12 terms, so prompt + TaskEvaluator's response budget stay inside the 1024-token context.
    private static IReadOnlyList<TaskExample> Examples(ulong seed, int count) =>
        new ChainArithmeticTask(new ChainArithmeticOptions { Seed = seed, MaxTerms = 12 }).Sample(count);

    private RolloutEvaluator Evaluator(IRolloutGenerator engine, IReadOnlyList<TaskExample> examples, int maxNew, int passAtK = 0) =>
        new(engine, Tokenizer, TaskEvaluator.AsEvaluationExamples(examples),
            new EvaluationOptions { MaxNewTokens = maxNew, StopTokens = new HashSet<int> { Tokenizer.EosId!.Value }, PassAtK = passAtK, Seed = 5 },
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }), IsCorrect);

    [Fact]
    public void Evaluate_GreedyAccuracy_EqualsTaskEvaluatorOnTheSameExamples()
    {
        var target = fixture.Target.Model;
        var examples = Examples(903, 48);
        // TaskEvaluator's budget for one batch holding every example, and its context.
        int maxNew = 2 * examples.Max(e => e.Response.Length + 1) + 8;
        int context = examples.Max(e => e.Prompt.Length + 1) + maxNew + 1;
        var reference = TaskEvaluator.Evaluate(target, examples, batchSize: examples.Count);

        var result = Evaluator(new RolloutEngine(target, new RolloutEngineOptions { MaxSequenceLength = context }), examples, maxNew).Evaluate();

        Assert.Equal(reference.Accuracy, result.Accuracy);
        Assert.Equal(reference.Correct, result.Correct);
        Assert.Equal(reference.Responses, result.Responses.Select(r => r.Response));
        Assert.Equal(reference.Buckets.Select(b => (b.Name, b.Count, b.Correct)).OrderBy(b => b.Name),
            result.Buckets.Select(b => (b.Bucket, b.Count, b.Correct)).OrderBy(b => b.Bucket));
        Assert.Equal(result.Accuracy, result.RewardMean);                  // the exact-answer reward is 1 exactly when correct
        Assert.True(reference.Accuracy > 0.3, $"accuracy {reference.Accuracy:P0}: too few correct answers for the comparison to mean much\n{reference}");
    }

    [Fact]
    public void Evaluate_WithSpeculation_OutputsEqualPlainTokenForToken()
    {
        var target = fixture.Target.Model;
        var examples = Examples(904, 24);
        var plain = Evaluator(new RolloutEngine(target, new RolloutEngineOptions { MaxSequenceLength = 512 }), examples, 200, passAtK: 2).Evaluate();
        using var drafter = new EagleDrafter(target, fixture.Drafter);
        var engine = new RolloutEngine(target, new RolloutEngineOptions { MaxSequenceLength = 512, Drafter = drafter, Strategy = SpecStrategy.ChainOf(5, sample: false) });
        var speculative = Evaluator(engine, examples, 200, passAtK: 2).Evaluate();

        for (int i = 0; i < examples.Count; i++)
            Assert.Equal(plain.Responses[i].TokenIds, speculative.Responses[i].TokenIds);
        Assert.Equal(plain.Accuracy, speculative.Accuracy);
        Assert.Equal(plain.PassAtK, speculative.PassAtK);               // the sampled responses match too (coupled verification)
        Assert.Equal(2, speculative.K);
        Assert.Equal(1.0, plain.AcceptLength);
        Assert.True(speculative.AcceptLength > 1.5, $"accepted length {speculative.AcceptLength:F2}: the evaluation did not speculate");
    }

    [Fact]
    public void Create_PromptTooLongForTheContext_NamesTheExample()
    {
        var examples = new[] { new EvaluationExample("1+2=", "3"), new EvaluationExample(string.Concat(Enumerable.Repeat("1+", 40)) + "1=", "41") };
        var engine = new RolloutEngine(fixture.Target.Model, new RolloutEngineOptions { MaxSequenceLength = 64 });
        var e = Assert.Throws<ArgumentException>(() => new RolloutEvaluator(engine, Tokenizer, examples, new EvaluationOptions { MaxNewTokens = 32 }));
        Assert.Contains("evaluation example 1", e.Message);
        Assert.Throws<ArgumentException>(() => new RolloutEvaluator(engine, Tokenizer, Array.Empty<EvaluationExample>(), new EvaluationOptions()));
    }

    [Theory]
    [InlineData(0, 0, 1.0, "MaxNewTokens = 0")]
    [InlineData(8, -1, 1.0, "PassAtK = -1")]
    [InlineData(8, 2, 0.0, "Temperature = 0")]
    public void Options_Invalid_NameTheField(int maxNew, int passAtK, double temperature, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new EvaluationOptions { MaxNewTokens = maxNew, PassAtK = passAtK, Temperature = temperature }.Validate());
        Assert.Contains(expected, e.Message);
    }
}
