using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Rl;

/// <summary>
/// RL on the embedded task with speculative rollouts trains exactly as with plain rollouts: the same tokens, rewards and
/// weights, step for step. (That RL learns is checked on a task where a few steps move the reward far beyond its noise:
/// RlTrainerTests.ShortRun_TinyModel_ClimbsTheReward. On this task a 20-step run moves the pass rate by about 0.05, within
/// what a test-sized measurement can resolve.)
/// </summary>
[Collection("embedded")]
public sealed class EmbeddedRlTests(EmbeddedFixture fixture)
{
    // A fixed pool of harder prompts (4–8 terms) sampled hot (T = 1.3), so the SFT policy starts well below its ceiling
    // and RL has room to climb; every prompt is in every step, so the curve is not prompt-mix noise.
    private const int Steps = 4;
    private const double Temperature = 1.3;
    private static readonly ChainArithmeticOptions PoolOptions = new() { Seed = 77, MinTerms = 4, MaxTerms = 8, TailExponent = 0 };
    private static readonly ChainArithmeticTextTokenizer Tokenizer = ChainArithmeticTextTokenizer.Instance;
    private static readonly HashSet<int> Stop = new() { Tokenizer.EosId!.Value };

    private static List<PromptExample> Pool() => new ChainArithmeticTask(PoolOptions).Sample(8).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();

    private CausalLM Copy()
    {
        var policy = new CausalLM(fixture.Target.Model.Config);
        using (no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(fixture.Target.Model.state_dict()[name]);
        return policy;
    }

    private StepMetrics[] Train(CausalLM policy, bool speculative)
    {
        using var serving = new EagleDraftModel(policy.Config);
        serving.CopyFrom(fixture.Drafter.state_dict(), "warm drafter");
        using var eagle = new EagleDrafter(policy, serving);
        var engine = new RolloutEngine(policy, new RolloutEngineOptions
        {
            Drafter = speculative ? eagle : null, Strategy = SpecStrategy.ChainOf(5, sample: false), SpeculateAtOrBelowBatch = 16,
        });
        using var trainer = new RlTrainer(policy, Tokenizer, engine,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(Pool(), 3), new RlTrainerOptions
            {
                PromptsPerStep = 8, GroupSize = 8, MicroBatchSize = 64, LearningRate = 3e-5, Seed = 9,
                Sampling = new SamplingOptions { Temperature = Temperature, MaxNewTokens = 120, StopTokens = Stop },
            });
        return Enumerable.Range(0, Steps).Select(_ => trainer.RunStep()).ToArray();
    }

    [Fact]
    public void ShortRun_SpeculativeTrainsExactlyLikePlain()
    {
        using var plainPolicy = Copy();
        using var specPolicy = Copy();
        var plainSteps = Train(plainPolicy, speculative: false);
        var specSteps = Train(specPolicy, speculative: true);
        var plain = plainSteps.Select(m => m.RewardMean).ToArray();
        var spec = specSteps.Select(m => m.RewardMean).ToArray();
        Assert.Contains(specSteps, m => m.AcceptLength > 1.5);
        static string Curve(double[] r) => string.Join(", ", r.Select(x => x.ToString("F3")));
        string report = $"plain rewards [{Curve(plain)}]; speculative rewards [{Curve(spec)}]";
        Console.WriteLine(report);

        // Coupled verification with reproducible draws samples exactly what plain decoding samples: the runs are one run.
        Assert.Equal(plain, spec);
        Assert.Equal(plainSteps.Select(m => m.Loss), specSteps.Select(m => m.Loss));
        var specWeights = specPolicy.state_dict();
        foreach (var (name, p) in plainPolicy.state_dict()) Assert.True(p.equal(specWeights[name]).all().item<bool>(), $"{name} differs; {report}");
    }
}
