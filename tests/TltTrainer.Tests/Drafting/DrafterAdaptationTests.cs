using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

/// <summary>
/// The reason for online drafter training: RL moves the policy, a frozen drafter falls behind (its accepted
/// length drops), and training on the hidden states of the moved policy's own rollouts brings it back.
/// </summary>
[Collection("embedded")]
public sealed class DrafterAdaptationTests(EmbeddedFixture fixture)
{
    private static readonly ChainArithmeticOptions Task = new() { Seed = 515, MinTerms = 3, MaxTerms = 12, TailExponent = 1.0 };

    private static double AcceptLength(CausalLM policy, EagleDraftModel drafterModel, IReadOnlyList<TaskExample> prompts)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        using var drafter = new EagleDrafter(policy, drafterModel);
        var engine = new RolloutEngine(policy, new RolloutEngineOptions
        {
            MaxRunningBatch = 8, Drafter = drafter, Strategy = SpecStrategy.ChainOf(5, sample: false), SpeculateAtOrBelowBatch = 8,
        });
        var requests = prompts.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 160, StopTokens = new HashSet<int> { tokenizer.EosId!.Value }, Seed = (ulong)i })).ToList();
        return engine.Generate(requests).Metrics.MeanAcceptLength;
    }

    /// <summary>Moves the policy with a few large RL updates (on purpose: a big shift in few steps).</summary>
    private static void Shift(CausalLM policy, int steps, double learningRate)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var prompts = new ChainArithmeticTask(Task with { Seed = 516 }).Sample(64).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        using var trainer = new RlTrainer(policy, tokenizer, new RolloutEngine(policy),
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(prompts, 1), new RlTrainerOptions
            {
                PromptsPerStep = 8, GroupSize = 4, MicroBatchSize = 32, LearningRate = learningRate, Seed = 2,
                Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 160, StopTokens = new HashSet<int> { tokenizer.EosId!.Value } },
            });
        for (int s = 0; s < steps; s++) trainer.RunStep();
    }

    [Fact]
    public void OnlineTraining_AfterPolicyShift_RestoresTheAcceptedLengthAFrozenDrafterLoses()
    {
        var config = fixture.Target.Model.Config;
        var eval = new ChainArithmeticTask(Task with { Seed = 517 }).Sample(16);
        double before = AcceptLength(fixture.Target.Model, fixture.Drafter, eval);

        using var policy = new CausalLM(config);
        using (no_grad()) foreach (var (name, p) in policy.named_parameters()) p.copy_(fixture.Target.Model.state_dict()[name]);
        Shift(policy, steps: 4, learningRate: 5e-4);
        double frozen = AcceptLength(policy, fixture.Drafter, eval);

        // Online: the moved policy's rollouts feed the buffer (no extra forward), the drafter trains on it.
        using var training = new EagleDraftModel(config);
        training.CopyFrom(fixture.Drafter.state_dict(), "warm drafter");
        using var buffer = new HiddenStateBuffer(new HiddenStateBufferOptions(WindowTokens: 512, MaxBytes: 64L << 20));
        using var publisher = new DrafterPublisher();
        using var online = new OnlineDrafterTraining(policy, training, buffer, publisher);
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var rollouts = new ChainArithmeticTask(Task with { Seed = 518 }).Sample(64);
        new RolloutEngine(policy, new RolloutEngineOptions { MaxRunningBatch = 32, HiddenStateSink = buffer }).Generate(rollouts.Select((e, i) =>
            new RolloutRequest(i, tokenizer.Encode(e.Prompt), new SamplingOptions { Temperature = 1.0, MaxNewTokens = 160, StopTokens = new HashSet<int> { tokenizer.EosId!.Value }, Seed = (ulong)(1000 + i) })).ToList());
        buffer.Commit();
        const int trainSteps = 100;
        for (int s = 0; s < trainSteps; s++) Assert.True(online.Run(threads: 2, CancellationToken.None));
        double adapted = AcceptLength(policy, training, eval);

        string report = $"accepted length: warm drafter on the original policy {before:F2}; on the moved policy frozen {frozen:F2}, after {trainSteps} online steps {adapted:F2}";
        Console.WriteLine(report);
        Assert.True(frozen < before - 0.3, $"the shift did not hurt the frozen drafter; {report}");
        Assert.True(adapted >= frozen + 0.5 * (before - frozen), $"online training recovered less than half of the loss; {report}");
    }
}
