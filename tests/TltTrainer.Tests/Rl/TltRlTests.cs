using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tlt;

namespace TltTrainer.Tests.Rl;

/// <summary>
/// The whole TLT stack (workers, adaptive speculation, online drafter on idle compute) leaves RL unchanged: the same rewards
/// and the same trained policy as plain decoding on the same workers, step for step.
/// </summary>
[Collection("embedded")]
public sealed class TltRlTests(EmbeddedFixture fixture)
{
    private const int Steps = 3;

    private (StepMetrics[] Steps, IReadOnlyList<int[]> GreedyAfter) Run(bool tlt)
    {
        var config = fixture.Target.Model.Config;
        using var policy = new CausalLM(config);
        using (no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(fixture.Target.Model.state_dict()[name]);
        using var stack = TltRollout.Create(policy, fixture.Drafter, new TltRolloutOptions
        {
            Enabled = tlt, Workers = 2, MaxSequenceLength = 512, Patience = 2,
            Clock = new ManualClock(),       // the bandit scores arms by tokens per step, not by this machine's speed
        });
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };
        var task = new ChainArithmeticOptions { Seed = 611, MinTerms = 2, MaxTerms = 24 };
        var prompts = new ChainArithmeticTask(task).Sample(64).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        using var trainer = new RlTrainer(policy, tokenizer, stack.Rollout,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(prompts, 5), new RlTrainerOptions
            {
                PromptsPerStep = 8, GroupSize = 4, MicroBatchSize = 32, LearningRate = 3e-5, Seed = 6,
                Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 240, StopTokens = stop },
            })
        { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
        var metrics = Enumerable.Range(0, Steps).Select(_ => trainer.RunStep()).ToArray();
        var eval = new ChainArithmeticTask(task with { Seed = 612 }).Sample(16);
        var greedy = new RolloutEngine(policy).Generate(eval.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(240, stop))).ToList())
            .Trajectories.Select(t => t.ResponseTokens).ToList();
        return (metrics, greedy);
    }

    [Fact]
    public void ShortRun_TltOn_MatchesTltOff_AndReportsItsWork()
    {
        var off = Run(tlt: false);
        var on = Run(tlt: true);
        string report = $"rewards off [{string.Join(", ", off.Steps.Select(m => m.RewardMean.ToString("F3")))}], "
            + $"on [{string.Join(", ", on.Steps.Select(m => m.RewardMean.ToString("F3")))}]; accepted length on "
            + $"[{string.Join(", ", on.Steps.Select(m => m.AcceptLength.ToString("F2")))}]; arms {string.Join(" ", on.Steps[^1].ArmChoices?.Select(kv => $"{kv.Key}={kv.Value}") ?? Array.Empty<string>())}";
        Console.WriteLine(report);
        Assert.Equal(off.Steps.Select(m => m.RewardMean), on.Steps.Select(m => m.RewardMean));
        Assert.Equal(off.Steps.Select(m => m.Loss), on.Steps.Select(m => m.Loss));
        Assert.Equal(off.Steps.Select(m => m.ResponseLengths), on.Steps.Select(m => m.ResponseLengths));
        for (int i = 0; i < off.GreedyAfter.Count; i++) Assert.Equal(off.GreedyAfter[i], on.GreedyAfter[i]);
        // TLT off reports no TLT work; TLT on reports arms, drafter versions and idle accounting.
        Assert.All(off.Steps, m => Assert.Null(m.DrafterVersion));
        Assert.All(on.Steps, m => Assert.NotNull(m.DrafterVersion));
        Assert.All(on.Steps, m => Assert.NotNull(m.ArmChoices));
        Assert.Contains(on.Steps.SelectMany(m => m.ArmChoices!.Keys), k => !k.EndsWith(":none", StringComparison.Ordinal));
        Assert.True(on.Steps.Max(m => m.AcceptLength) > 1.5, report);
        // Each step publishes the drafter before its rollout, so the versions served rise step by step; the idle accounting
        // reads the injected clock, which never moved (the wall clock would have given some positive time).
        Assert.Equal(on.Steps.Select(m => m.DrafterVersion).Order().Distinct(), on.Steps.Select(m => m.DrafterVersion));
        Assert.All(on.Steps, m => Assert.Equal((0.0, 0.0), (m.IdleWorkerSeconds!.Value, m.DrafterTrainSeconds!.Value)));
    }
}
