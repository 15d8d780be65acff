using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rl;

/// <summary>RL on the embedded task: reward goes up, and speculative rollouts change nothing but speed.</summary>
[Collection("embedded")]
public sealed class EmbeddedRlTests(EmbeddedFixture fixture)
{
    private const int Steps = 6;
    private static readonly ChainArithmeticOptions TaskOptions = new() { Seed = 903, MinTerms = 2, MaxTerms = 16 };

    private sealed record RunResult(double[] Rewards, double EvalBefore, double EvalAfter, IReadOnlyList<int[]> GreedyAfter);

    private RunResult Run(bool speculative)
    {
        var config = fixture.Target.Model.Config;
        using var policy = new CausalLM(config);
        using (no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(fixture.Target.Model.state_dict()[name]);
        using var serving = new EagleDraftModel(config);
        serving.CopyFrom(fixture.Drafter.state_dict(), "warm drafter");
        using var eagle = new EagleDrafter(policy, serving);
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var engine = new RolloutEngine(policy, new RolloutEngineOptions
        {
            Drafter = speculative ? eagle : null, Strategy = SpecStrategy.ChainOf(5, sample: false), SpeculateAtOrBelowBatch = 16,
        });
        var task = new ChainArithmeticTask(TaskOptions);
        var prompts = task.Sample(256).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        using var trainer = new RlTrainer(policy, tokenizer, engine,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(prompts, 17), new RlTrainerOptions
            {
                PromptsPerStep = 8, GroupSize = 4, MicroBatchSize = 32, LearningRate = 3e-4, Seed = 5,
                Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 200, StopTokens = stop },
            });
        var eval = new ChainArithmeticTask(TaskOptions with { Seed = 904 }).Sample(96);
        double Accuracy() => SampledAccuracy(policy, eval, stop);
        double before = Accuracy();
        var rewards = Enumerable.Range(0, Steps).Select(_ => trainer.RunStep().RewardMean).ToArray();
        double after = Accuracy();
        var greedy = new RolloutEngine(policy).Generate(eval.Take(24).Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(200, stop))).ToList())
            .Trajectories.Select(t => t.ResponseTokens).ToList();
        return new RunResult(rewards, before, after, greedy);
    }

    /// <summary>Exact-answer accuracy of temperature-1 samples on fixed prompts and seeds (the quantity RL optimises).</summary>
    private static double SampledAccuracy(CausalLM policy, IReadOnlyList<TaskExample> eval, IReadOnlySet<int> stop)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var requests = eval.SelectMany((e, i) => Enumerable.Range(0, 2).Select(k => new RolloutRequest(i * 2 + k, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 200, StopTokens = stop, Seed = (ulong)(i * 2 + k) }))).ToList();
        var result = new RolloutEngine(policy).Generate(requests).Trajectories;
        return result.Count(t => ChainArithmeticTask.IsCorrect(tokenizer.Decode(t.ResponseTokens), eval[(int)t.RequestId / 2].Answer)) / (double)result.Count;
    }

    [Fact]
    public void ShortRun_PlainAndSpeculative_RaiseRewardAndAgree()
    {
        var plain = Run(speculative: false);
        var spec = Run(speculative: true);
        string report = $"plain: eval {plain.EvalBefore:P1} → {plain.EvalAfter:P1}, rewards [{string.Join(", ", plain.Rewards.Select(r => r.ToString("F2")))}]; "
            + $"speculative: eval {spec.EvalBefore:P1} → {spec.EvalAfter:P1}, rewards [{string.Join(", ", spec.Rewards.Select(r => r.ToString("F2")))}]";
        Console.WriteLine(report);
        Assert.True(plain.EvalAfter > plain.EvalBefore + 0.03, report);
        Assert.True(spec.EvalAfter > spec.EvalBefore + 0.03, report);
        // Coupled verification samples what plain decoding samples, so the two runs see the same data.
        for (int s = 0; s < Steps; s++) Assert.True(Math.Abs(plain.Rewards[s] - spec.Rewards[s]) <= 0.1, report);
        int same = plain.GreedyAfter.Zip(spec.GreedyAfter).Count(p => p.First.SequenceEqual(p.Second));
        Assert.True(same >= plain.GreedyAfter.Count * 0.9, $"greedy outputs identical for {same}/{plain.GreedyAfter.Count}; {report}");
    }
}
