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
    // A fixed pool of harder prompts (4–8 terms) sampled hot (T = 1.3), so the SFT policy starts near 60%
    // and RL has room to climb; every prompt is in every step, so the curve is not prompt-mix noise.
    private const int Steps = 10;
    private const double Temperature = 1.3;
    private static readonly ChainArithmeticOptions PoolOptions = new() { Seed = 77, MinTerms = 4, MaxTerms = 8, TailExponent = 0 };

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
        var prompts = new ChainArithmeticTask(PoolOptions).Sample(8).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        using var trainer = new RlTrainer(policy, tokenizer, engine,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(prompts, 3), new RlTrainerOptions
            {
                PromptsPerStep = prompts.Count, GroupSize = 8, MicroBatchSize = 64, LearningRate = 5e-5, Seed = 9,
                Sampling = new SamplingOptions { Temperature = Temperature, MaxNewTokens = 120, StopTokens = stop },
            });
        var rewards = Enumerable.Range(0, Steps).Select(_ => trainer.RunStep().RewardMean).ToArray();
        var eval = new ChainArithmeticTask(PoolOptions with { Seed = 904, MinTerms = 2, MaxTerms = 24, TailExponent = 2.0 }).Sample(24);
        var greedy = new RolloutEngine(policy).Generate(eval.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(200, stop))).ToList())
            .Trajectories.Select(t => t.ResponseTokens).ToList();
        return new RunResult(rewards, greedy);
    }

    [Fact]
    public void ShortRun_RaisesMeanReward_AndSpeculativeTrainsExactlyLikePlain()
    {
        var plain = Run(speculative: false);
        var spec = Run(speculative: true);
        static string Curve(double[] r) => string.Join(", ", r.Select(x => x.ToString("F3")));
        string report = $"plain rewards [{Curve(plain.Rewards)}]; speculative rewards [{Curve(spec.Rewards)}]";
        Console.WriteLine(report);
        foreach (var rewards in new[] { plain.Rewards, spec.Rewards })
        {
            Assert.All(rewards, r => Assert.True(double.IsFinite(r)));
            double first = rewards.Take(3).Average(), last = rewards.TakeLast(3).Average();
            Assert.True(last >= first + 0.05, $"mean reward did not rise: first 3 steps {first:F3}, last 3 {last:F3}; {report}");
        }
        // Coupled verification samples what plain decoding samples, so the two runs see the same data.
        for (int s = 0; s < Steps; s++) Assert.True(Math.Abs(plain.Rewards[s] - spec.Rewards[s]) <= 0.1, report);
        int same = plain.GreedyAfter.Zip(spec.GreedyAfter).Count(p => p.First.SequenceEqual(p.Second));
        Assert.True(same >= plain.GreedyAfter.Count * 0.9, $"greedy outputs identical for {same}/{plain.GreedyAfter.Count}; {report}");
    }
}
