using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rl;

/// <summary>RL on the embedded task with speculative rollouts trains exactly as with plain rollouts.</summary>
[Collection("embedded")]
public sealed class EmbeddedRlTests(EmbeddedFixture fixture)
{
    private const int Steps = 3;
    private static readonly ChainArithmeticOptions TaskOptions = new() { Seed = 903, MinTerms = 2, MaxTerms = 24 };

    private sealed record RunResult(double[] Rewards, IReadOnlyList<int[]> GreedyAfter);

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
                PromptsPerStep = 8, GroupSize = 4, MicroBatchSize = 32, LearningRate = 5e-5, Seed = 5,
                Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 200, StopTokens = stop },
            });
        var eval = new ChainArithmeticTask(TaskOptions with { Seed = 904 }).Sample(24);
        var rewards = Enumerable.Range(0, Steps).Select(_ => trainer.RunStep().RewardMean).ToArray();
        var greedy = new RolloutEngine(policy).Generate(eval.Take(24).Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(200, stop))).ToList())
            .Trajectories.Select(t => t.ResponseTokens).ToList();
        return new RunResult(rewards, greedy);
    }

    [Fact]
    public void ShortRun_SpeculativeRollouts_TrainExactlyLikePlain()
    {
        var plain = Run(speculative: false);
        var spec = Run(speculative: true);
        string report = $"plain rewards [{string.Join(", ", plain.Rewards.Select(r => r.ToString("F3")))}]; "
            + $"speculative rewards [{string.Join(", ", spec.Rewards.Select(r => r.ToString("F3")))}]";
        Console.WriteLine(report);
        Assert.All(plain.Rewards, r => Assert.True(double.IsFinite(r)));
        // Coupled verification samples what plain decoding samples, so the two runs see the same data.
        for (int s = 0; s < Steps; s++) Assert.True(Math.Abs(plain.Rewards[s] - spec.Rewards[s]) <= 0.1, report);
        int same = plain.GreedyAfter.Zip(spec.GreedyAfter).Count(p => p.First.SequenceEqual(p.Second));
        Assert.True(same >= plain.GreedyAfter.Count * 0.9, $"greedy outputs identical for {same}/{plain.GreedyAfter.Count}; {report}");
    }
}
