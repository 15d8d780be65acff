using Quickstart;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.Rl;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tlt;

namespace TltTrainer.Tests.Samples;

/// <summary>The replay benchmark regenerates the TLT run's recorded rounds in isolation, with the job's exact tokens.</summary>
public sealed class ReplayBenchTests
{
    private sealed class CharacterSum : IRewardFunction
    {
        public string Name => "character_sum";
        public double Score(RewardInput input) => input.Response.Sum(c => (int)c) % 5 / 4.0;
    }

    [Fact]
    public void Replay_OfRecordedRounds_ReproducesTheJobsTokens_AndReportsBothSpeedups()
    {
        using var dir = new TempDirectory();
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 5);
        using var start = new EagleDraftModel(model.Config, seed: 3);
        var stackOptions = new TltRolloutOptions { Workers = 2, Patience = 0, MaxSequenceLength = 64 };
        using var stack = TltRollout.Create(model, start, stackOptions);
        RlTrainer? trainer = null;
        using var recording = new RecordingRollout(stack.Rollout, model, stack.TrainingDrafter!, () => trainer!.Step, keep: 2);
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();
        trainer = new RlTrainer(model, tokenizer, recording, new RewardComposer(new[] { new WeightedReward(new CharacterSum()) }),
            new PromptSampler(prompts, 3), RlTrainerTests.Options with { PpoEpochs = 1, Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 24 } })
        { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
        using (trainer)
        {
            var steps = Enumerable.Range(0, 3).Select(_ => trainer.RunStep()).ToList();
            Assert.Equal(new[] { 1, 2 }, recording.Rounds.Select(r => r.Step));                  // the last two rounds are kept
            var replay = ReplayBench.Run(recording.Rounds, steps, steps, stackOptions, model.Config);
            Assert.True(replay["replay_tokens_identical"]!.GetValue<bool>());
            Assert.Equal(2, replay["replay_steps"]!.AsArray().Count);
            Assert.True(replay["replay_rollout_speedup"]!.GetValue<double>() > 0);
            Assert.Equal(1.0, replay["in_job_rollout_speedup"]!.GetValue<double>());             // the same steps as "off" and "on" here
        }
    }
}
