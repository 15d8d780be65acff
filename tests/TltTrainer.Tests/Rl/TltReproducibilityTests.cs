using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tlt;

namespace TltTrainer.Tests.Rl;

/// <summary>
/// Invariant 8: a run with TLT on produces exactly the tokens, rewards and weights of the same run with TLT off, and a
/// TLT-on run resumed from any of its checkpoints continues exactly as the uninterrupted run, whatever the adaptive policy
/// chose (it picks arms by wall-clock throughput, so the verification shapes differ from run to run) and whatever the
/// drafter's state (idle training is timing-dependent, and the buffer is not checkpointed).
/// </summary>
public sealed class TltReproducibilityTests
{
    private const int Steps = 5;
    private static readonly IReadOnlyList<PromptExample> Prompts =
        Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();

    /// <summary>Reward: the response's character codes summed modulo 5 (varies within every group).</summary>
    private sealed class CharacterSum : IRewardFunction
    {
        public string Name => "character_sum";
        public double Score(RewardInput input) => input.Response.Sum(c => (int)c) % 5 / 4.0;
    }

    private sealed record Run(double[] Losses, double[] Rewards, float[] Params, long SpeculativeChoices);

    private static Run Train(TempDirectory dir, bool tlt, string? checkpoints, string? resumeFrom)
    {
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        // Default-width random weights: flat next-token distributions, so draws near a decision boundary are common.
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 5);
        using var start = new EagleDraftModel(model.Config, seed: 3);
        using var stack = TltRollout.Create(model, start, new TltRolloutOptions { Enabled = tlt, Workers = 2, Patience = 0, MaxSequenceLength = 64 });
        using var trainer = new RlTrainer(model, tokenizer, stack.Rollout, new RewardComposer(new[] { new WeightedReward(new CharacterSum()) }),
            new PromptSampler(Prompts, 3), RlTrainerTests.Options with { PpoEpochs = 1, Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 24 } })
        { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
        if (resumeFrom is not null) trainer.LoadCheckpoint(resumeFrom);
        var losses = new List<double>();
        var rewards = new List<double>();
        long speculative = 0;
        while (trainer.Step < Steps)
        {
            var m = trainer.RunStep();
            losses.Add(m.Loss);
            rewards.Add(m.RewardMean);
            speculative += m.ArmChoices?.Where(kv => !kv.Key.EndsWith(":none", StringComparison.Ordinal)).Sum(kv => kv.Value) ?? 0;
            if (checkpoints is not null) trainer.SaveCheckpoint(checkpoints);
        }
        return new Run(losses.ToArray(), rewards.ToArray(), RlTrainerTests.Flatten(model), speculative);
    }

    [Fact]
    public void TltOn_EqualsTltOff_AndResumesExactlyFromEveryCheckpoint()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var on = Train(dir, tlt: true, root, resumeFrom: null);
        var off = Train(dir, tlt: false, null, null);
        Assert.True(on.SpeculativeChoices > 0, "no speculation ran: the comparison would show nothing");
        Assert.Equal(off.Rewards, on.Rewards);
        Assert.Equal(off.Losses, on.Losses);
        Assert.Equal(off.Params, on.Params);

        foreach (int k in new[] { 1, 2, 4 })
        {
            var resumed = Train(dir, tlt: true, null, Path.Combine(root, $"step-{k:D6}"));
            Assert.Equal(on.Losses.Skip(k), resumed.Losses);
            Assert.Equal(on.Rewards.Skip(k), resumed.Rewards);
            Assert.Equal(on.Params, resumed.Params);
        }
    }
}
