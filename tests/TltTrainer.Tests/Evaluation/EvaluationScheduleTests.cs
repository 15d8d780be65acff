using TltTrainer.Evaluation;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Telemetry;
using TltTrainer.Tests.Rl;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Evaluation;

public sealed class EvaluationScheduleTests
{
    private sealed class Recording : IMetricsSink
    {
        public readonly List<StepMetrics> Lines = new();
        public void Write(StepMetrics metrics) => Lines.Add(metrics);
    }

    private sealed class HasLetterE : IRewardFunction
    {
        public string Name => "has_e";
        public double Score(RewardInput input) => input.Response.Contains('e') ? 1 : 0;
    }

    [Theory]
    [InlineData(2, 5, new[] { 2, 4, 5 })]
    [InlineData(0, 3, new[] { 3 })]
    [InlineData(3, null, new[] { 3 })]
    public void IsDue_EveryNAndTheLastStep(int every, int? total, int[] expected)
    {
        var schedule = new EvaluationSchedule(null!, every, total);
        Assert.Equal(expected, Enumerable.Range(0, 6).Where(schedule.IsDue));
    }

    [Fact]
    public void Validate_NeverDue_IsRefused()
    {
        using var dir = new TempDirectory();
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        var evaluator = new RolloutEvaluator(new RolloutEngine(model), TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir),
            new[] { new EvaluationExample("abc", null) }, new EvaluationOptions { MaxNewTokens = 4 });
        Assert.Contains("never evaluate", Assert.Throws<ArgumentException>(() => new EvaluationSchedule(evaluator).Validate()).Message);
        Assert.Contains("EveryNSteps = -1", Assert.Throws<ArgumentException>(() => new EvaluationSchedule(evaluator, -1, 3).Validate()).Message);
    }

    [Fact]
    public void RunStep_Scheduled_AddsValMetricsToThoseStepsOnly_AndTheyMatchAFreshEvaluation()
    {
        using var dir = new TempDirectory();
        var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        var rewards = new RewardComposer(new[] { new WeightedReward(new HasLetterE()) });
        var heldOut = Enumerable.Range(0, 6).Select(i => new EvaluationExample(RlTrainerTests.Alphabet.Substring(10 + i, 3), "e")).ToList();
        var evaluator = new RolloutEvaluator(new RolloutEngine(model), tokenizer, heldOut, new EvaluationOptions { MaxNewTokens = 12 }, rewards,
            (response, answer) => answer is not null && response.Contains(answer, StringComparison.Ordinal));
        var sink = new Recording();
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();
        using (model)
        using (var trainer = new RlTrainer(model, tokenizer, new RolloutEngine(model), rewards, new PromptSampler(prompts, 3),
            RlTrainerTests.Options with { PpoEpochs = 1, MiniBatchesPerEpoch = 1 }, sink: sink) { Evaluation = new EvaluationSchedule(evaluator, EveryNSteps: 2, TotalSteps: 3) })
        {
            var steps = Enumerable.Range(0, 3).Select(_ => trainer.RunStep()).ToList();
            Assert.Equal(steps, sink.Lines);                                       // the sink sees the val/ numbers too
            Assert.Null(steps[0].ValidationAccuracy);
            Assert.Null(steps[0].EvaluationSeconds);
            Assert.All(steps.Skip(1), m => Assert.NotNull(m.EvaluationSeconds));   // after step 2 (every 2) and step 3 (the last)
            var fresh = evaluator.Evaluate();                                      // greedy on the final policy: the same numbers
            Assert.Equal(fresh.Accuracy, steps[2].ValidationAccuracy);
            Assert.Equal(fresh.RewardMean, steps[2].ValidationReward);
            Assert.Equal(fresh.ResponseLengthMean, steps[2].ValidationResponseLengthMean);
            Assert.Null(steps[2].ValidationPassAtK);
        }
    }
}
