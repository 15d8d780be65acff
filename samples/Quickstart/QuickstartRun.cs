using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;

namespace Quickstart;

/// <summary>One RL run on the embedded task, TLT on or off.</summary>
internal static class QuickstartRun
{
        public static IReadOnlyList<StepMetrics> Run(EmbeddedTarget target, EagleDraftModel warmDrafter, QuickstartOptions options, bool tlt, CancellationToken cancellationToken)
    {
        string name = tlt ? "on" : "off";
        Console.WriteLine($"RL with TLT {name}:");
        var config = target.Model.Config;
        using var policy = new CausalLM(config);
        using (TorchSharp.torch.no_grad())
            foreach (var (key, p) in policy.named_parameters()) p.copy_(target.Model.state_dict()[key]);
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var stop = new HashSet<int> { tokenizer.EosId!.Value };

        using var stack = TltRollout.Create(policy, warmDrafter, new TltRolloutOptions
        {
            Enabled = tlt, Workers = options.Workers, MaxRunningBatch = 64, MaxSequenceLength = 1024, SpeculateAtOrBelowBatch = 16, Patience = 5,
        });
        var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = options.Seed });
        var prompts = task.Sample(4096).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        Directory.CreateDirectory(options.OutputDirectory);
        using var sink = new JsonlMetricsSink(Path.Combine(options.OutputDirectory, $"metrics-{name}.jsonl"));
        using var trainer = new RlTrainer(policy, tokenizer, stack.Rollout,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
            new PromptSampler(prompts, options.Seed), new RlTrainerOptions
            {
                PromptsPerStep = options.PromptsPerStep, GroupSize = options.GroupSize, MicroBatchSize = 32, LearningRate = options.LearningRate, Seed = options.Seed,
                Sampling = new SamplingOptions { Temperature = options.Temperature, MaxNewTokens = options.MaxNewTokens, StopTokens = stop },
            }, sink: sink)
        {
            AccuracyCheck = (response, answer) => answer is not null && ChainArithmeticTask.IsCorrect(response, answer),
            Tlt = stack.OnlineDrafter,
            Drafter = stack.TrainingDrafter,
        };
        var steps = StepDisplay.Run(trainer, options.Steps, options.Live, tlt, cancellationToken);
        if (steps.Count == 0) return steps;
        // Show what the trained policy writes (greedy) for a few fresh prompts.
        var shown = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = options.Seed + 1000, MaxTerms = 6 }).Sample(3);
        var answers = new RolloutEngine(policy).Generate(shown.Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt), SamplingOptions.Greedy(200, stop))).ToList());
        for (int i = 0; i < shown.Count; i++)
            Console.WriteLine($"  {shown[i].Prompt}{tokenizer.Decode(answers.Trajectories[i].ResponseTokens)}   (expected {shown[i].Answer})");
        return steps;
    }
}
