using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Telemetry;

namespace TltTrainer.Tests.Rl;

public sealed class RlTrainerTests
{
    internal const string Alphabet = "abcdefghijklmnopqrstuvwxyz";

    /// <summary>Reward: share of the letter 'e' in the response (a signal every group has some variance in).</summary>
    private sealed class LetterShare : IRewardFunction
    {
        public string Name => "letter_share";
        public double Score(RewardInput input) => input.Response.Length == 0 ? 0 : input.Response.Count(c => c == 'e') / (double)input.Response.Length;
    }

    /// <summary>Reward: the response's character codes summed modulo 7 (unrelated to learning, but it varies within every group).</summary>
    private sealed class CharacterSum : IRewardFunction
    {
        public string Name => "character_sum";
        public double Score(RewardInput input) => input.Response.Sum(c => (int)c) % 7 / 6.0;
    }

    /// <summary>Reward: <see cref="CharacterSum"/> for prompts starting with a letter at an even alphabet index, 0.5 for the others (groups with no signal).</summary>
    private sealed class HalfTheGroupsFlat : IRewardFunction
    {
        public string Name => "half_flat";
        public double Score(RewardInput input) => (input.Prompt[0] - 'a') % 2 == 1 ? 0.5 : input.Response.Sum(c => (int)c) % 7 / 6.0;
    }

    private sealed class ThrowsOnSample : IRewardFunction
    {
        public string Name => "fragile";
        public double Score(RewardInput input) => input.SampleId == 5 ? throw new FormatException("cannot parse") : 0;
    }

    private static readonly IReadOnlyList<PromptExample> Prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(Alphabet.Substring(i, 3), null)).ToList();

    internal static RlTrainerOptions Options => new()
    {
        PromptsPerStep = 3, GroupSize = 4, MicroBatchSize = 5, MiniBatchesPerEpoch = 2, PpoEpochs = 2, LearningRate = 1e-3, Seed = 11,
        Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 12 },
    };

    internal static (CausalLM Model, RlTrainer Trainer) Create(TempDirectory dir, RlTrainerOptions options, IRewardFunction? reward = null)
    {
        var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        var tokenizer = TestTokenizers.CharLevel(Alphabet, dir);
        var trainer = new RlTrainer(model, tokenizer, new RolloutEngine(model), new RewardComposer(new[] { new WeightedReward(reward ?? new LetterShare()) }),
            new PromptSampler(Prompts, 3), options);
        return (model, trainer);
    }

    [Fact]
    public void RunStep_TinyModel_MovesEveryParameterWithFiniteLoss()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options, new CharacterSum());
        using (model)
        using (trainer)
        using (var scope = torch.NewDisposeScope())   // keeps chained temporaries alive until used (and frees them)
        {
            var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
            var metrics = trainer.RunStep();
            Assert.True(double.IsFinite(metrics.Loss), $"loss {metrics.Loss}");
            Assert.True(metrics.RewardStd > 0, "no reward signal: the step could not move anything");
            Assert.Equal(0, metrics.SkippedSteps);
            foreach (var (name, p) in model.named_parameters())
            {
                using var diff = (p.detach() - before[name]).abs().max();
                Assert.True(diff.item<float>() > 0, $"parameter {name} did not move");
            }
            Assert.True(metrics.LogProbGapMax < 1e-4, $"rollout vs trainer log-prob gap {metrics.LogProbGapMax}");
            foreach (var t in before.Values) t.Dispose();
        }
    }

    [Fact]
    public void Resume_FromCheckpoint_NextStepIsBitExact()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        float[] straightParams;
        double straightLoss;
        var (model, trainer) = Create(dir, Options);
        using (model)
        using (trainer)
        {
            trainer.RunStep();
            trainer.RunStep();
            trainer.SaveCheckpoint(root);
            straightLoss = trainer.RunStep().Loss;
            straightParams = Flatten(model);
        }
        var (model2, trainer2) = Create(dir, Options);
        using (model2)
        using (trainer2)
        {
            trainer2.LoadCheckpoint(RlCheckpoint.Latest(root)!);
            Assert.Equal(2, trainer2.Step);
            var resumed = trainer2.RunStep();
            Assert.Equal(straightLoss, resumed.Loss);
            Assert.Equal(straightParams, Flatten(model2));
        }
    }

    [Fact]
    public void ShortRun_TinyModel_ClimbsTheReward()
    {
        // The direction check: rewarding the letter 'e' must make the policy write more of it.
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options with { PpoEpochs = 1, MiniBatchesPerEpoch = 1, LearningRate = 3e-3, PromptsPerStep = 4, GroupSize = 8 });
        using (model)
        using (trainer)
        {
            var steps = Enumerable.Range(0, 11).Select(_ => trainer.RunStep()).ToArray();
            var rewards = steps.Select(m => m.RewardMean).ToArray();
            // Single-pass update: old log-probs come from the update's own forward; they must still match the rollout's.
            Assert.All(steps, m => Assert.True(m.LogProbGapMax < 1e-4, $"rollout vs trainer log-prob gap {m.LogProbGapMax}"));
            string curve = string.Join(", ", rewards.Select(r => r.ToString("F3")));
            Console.WriteLine($"letter-share reward per step: {curve}");
            Assert.True(rewards.TakeLast(3).Average() > rewards.Take(3).Average() + 0.1, $"reward did not climb: {curve}");
        }
    }

    [Fact]
    public void RunStep_MicroBatchCut_DoesNotChangeTheUpdate()
    {
        // One sequence per micro-batch vs. the whole mini-batch in one forward: batch-wide loss denominators
        // make them the same loss and gradient. The loss is compared tightly (it carries the denominators;
        // Adam's update would hide a constant gradient scale); the weights after four Adam steps only to a
        // tenth of the learning rate (float reduction order differs, and Adam normalises tiny differences).
        using var dir = new TempDirectory();
        (double Loss, float[] Params) Step(RlTrainerOptions options)
        {
            var (model, trainer) = Create(dir, options);
            using (model)
            using (trainer)
            {
                double loss = trainer.RunStep().Loss;
                return (loss, Flatten(model));
            }
        }
        var single = Step(Options with { MicroBatchSize = 1, MicroBatchTokens = 0 });
        var whole = Step(Options with { MicroBatchSize = 64, MicroBatchTokens = 0 });
        var budgeted = Step(Options with { MicroBatchSize = 64, MicroBatchTokens = 40 });
        foreach (var (name, other) in new[] { ("whole", whole), ("token budget", budgeted) })
        {
            Assert.True(Math.Abs(single.Loss - other.Loss) <= 1e-5 * Math.Max(1, Math.Abs(single.Loss)), $"loss {single.Loss} vs {other.Loss} ({name})");
            double worst = single.Params.Zip(other.Params).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst < 0.1 * Options.LearningRate, $"parameters differ by {worst} ({name})");
        }
    }

    [Fact]
    public void RunStep_LeavingOutZeroAdvantageSequences_TakesTheSameStep()
    {
        using var dir = new TempDirectory();
        (StepMetrics Metrics, float[] Params) Step(RlTrainerOptions options)
        {
            var (model, trainer) = Create(dir, options, new HalfTheGroupsFlat());
            using (model)
            using (trainer)
            {
                var metrics = trainer.RunStep();
                return (metrics, Flatten(model));
            }
        }
        var all = Step(Options with { SkipZeroAdvantageSequences = false });
        var skipping = Step(Options);
        Assert.True(all.Metrics.ZeroStdGroups > 0 && all.Metrics.ZeroStdGroups < 1, $"zero-std groups {all.Metrics.ZeroStdGroups}");
        Assert.Equal(0, all.Metrics.ZeroAdvantageTokenShare);
        Assert.InRange(skipping.Metrics.ZeroAdvantageTokenShare, 0.05, 0.95);
        Assert.True(Math.Abs(all.Metrics.Loss - skipping.Metrics.Loss) <= 1e-5 * Math.Max(1, Math.Abs(all.Metrics.Loss)),
            $"loss {all.Metrics.Loss} vs {skipping.Metrics.Loss}");
        double worst = all.Params.Zip(skipping.Params).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst < 0.1 * Options.LearningRate, $"parameters differ by {worst}");

        // A KL term pulls every sequence towards the reference, whatever its advantage: nothing may be left out then.
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        using var reference = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        using var withKl = new RlTrainer(model, TestTokenizers.CharLevel(Alphabet, dir), new RolloutEngine(model),
            new RewardComposer(new[] { new WeightedReward(new HalfTheGroupsFlat()) }), new PromptSampler(Prompts, 3), Options with { KlCoefficient = 0.1 },
            reference: reference);
        Assert.Equal(0, withKl.RunStep().ZeroAdvantageTokenShare);
    }

    [Fact]
    public void RunStep_RewardThrows_ErrorNamesTheSample()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options, new ThrowsOnSample());
        using (model)
        using (trainer)
        {
            var e = Assert.Throws<RewardException>(() => trainer.RunStep());
            Assert.Contains("'fragile'", e.Message);
            Assert.Contains("sample 5", e.Message);
            Assert.Contains("cannot parse", e.Message);
        }
    }

    /// <summary>PPO-clip whose first mini-batch loss is NaN.</summary>
    private sealed class NaNOnce : IPolicyObjective
    {
        private readonly PpoClipObjective _inner = new();
        private int _calls;
        public PolicyLossResult Compute(Tensor logProbs, Tensor oldLogProbs, Tensor advantages, Tensor mask)
        {
            var r = _inner.Compute(logProbs, oldLogProbs, advantages, mask);
            return _calls++ == 0 ? r with { PerToken = r.PerToken * double.NaN } : r;
        }
    }

    [Fact]
    public void RunStep_NaNLoss_SkipPolicy_SkipsThatOptimizerStepAndReportsIt()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options with { Objective = new NaNOnce(), PpoEpochs = 1, MiniBatchesPerEpoch = 1 });
        using (model)
        using (trainer)
        {
            var before = Flatten(model);
            var metrics = trainer.RunStep();
            Assert.Equal(1, metrics.SkippedSteps);
            Assert.Equal(before, Flatten(model));                                    // no weight change
            Assert.True(Flatten(model).All(float.IsFinite));
        }
    }

    [Fact]
    public void RunStep_NaNLoss_StopPolicy_StopsNamingTheStep()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options with { Objective = new NaNOnce(), NonFinite = NonFiniteLossPolicy.Stop });
        using (model)
        using (trainer)
        {
            var e = Assert.Throws<InvalidOperationException>(() => trainer.RunStep());
            Assert.Contains("RL step 0", e.Message);
        }
    }

    private sealed class Constant(string name, double value) : IRewardFunction
    {
        public string Name => name;
        public double Score(RewardInput input) => value;
    }

    [Fact]
    public void RunStep_NoStopToken_EveryResponseCutAtTheLimit()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Create(dir, Options with { PpoEpochs = 1, MiniBatchesPerEpoch = 1 });
        using (model)
        using (trainer)
        {
            var m = trainer.RunStep();
            Assert.All(m.ResponseLengths!, l => Assert.Equal(12, l));       // MaxNewTokens
            Assert.Equal(1.0, m.ClippedRatio);
            Assert.Null(m.TerminatedLengthMean);
            Assert.Null(m.AcceptLengths);                                      // plain decoding drafts nothing
        }
    }

    [Fact]
    public void RunStep_SpeculativeEngine_ReportsEachResponsesAcceptedLength()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        // Drafts the row's last token twice: often wrong, sometimes right; either way every response is drafted for.
        using var drafter = new FuncDrafter((ctx, r) => TltTrainer.Speculative.DraftTree.Chain(new[] { ctx.Tokens[r][^1], ctx.Tokens[r][^1] }));
        var engine = new RolloutEngine(model, new RolloutEngineOptions { Drafter = drafter, Strategy = TltTrainer.Speculative.SpecStrategy.ChainOf(2) });
        using var trainer = new RlTrainer(model, TestTokenizers.CharLevel(Alphabet, dir), engine, new RewardComposer(new[] { new WeightedReward(new LetterShare()) }),
            new PromptSampler(Prompts, 3), Options with { PpoEpochs = 1, MiniBatchesPerEpoch = 1 });
        var m = trainer.RunStep();
        Assert.Equal(m.ResponseLengths!.Count, m.AcceptLengths!.Count);
        Assert.All(m.AcceptLengths, a => Assert.InRange(a, 1.0, 12.0));
    }

    [Fact]
    public void RunStep_EveryTokenStops_NothingClippedAndTerminatedLengthOne()
    {
        using var dir = new TempDirectory();
        var stopAll = Enumerable.Range(0, TransformerPresets.Tiny.VocabSize).ToHashSet();
        var (model, trainer) = Create(dir, Options with { PpoEpochs = 1, MiniBatchesPerEpoch = 1, Sampling = Options.Sampling with { StopTokens = stopAll } });
        using (model)
        using (trainer)
        {
            var m = trainer.RunStep();
            Assert.Equal(0.0, m.ClippedRatio);
            Assert.Equal(1.0, m.TerminatedLengthMean);
        }
    }

    [Fact]
    public void RunStep_ConstantAndVaryingRewards_ZeroStdGroupsAndEachFunctionsMean()
    {
        using var dir = new TempDirectory();
        var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        var tokenizer = TestTokenizers.CharLevel(Alphabet, dir);
        var rewards = new RewardComposer(new[] { new WeightedReward(new Constant("always", 0.75), 2.0), new WeightedReward(new Constant("never", 0)) });
        using (model)
        using (var trainer = new RlTrainer(model, tokenizer, new RolloutEngine(model), rewards, new PromptSampler(Prompts, 3), Options with { PpoEpochs = 1 }))
        {
            var m = trainer.RunStep();
            Assert.Equal(1.0, m.ZeroStdGroups);                                  // every group's rewards are equal
            Assert.Equal(0.75, m.RewardFunctionMeans!["always"]);                // unweighted
            Assert.Equal(0.0, m.RewardFunctionMeans["never"]);
            Assert.Equal(1.5, m.RewardMean, 12);                                 // the weighted total
        }
    }

    internal static float[] Flatten(CausalLM model) => model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();
}
