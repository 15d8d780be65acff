// The phases of the adaptation benchmark: the shift (real RL steps of the Quickstart job, TLT on, which
// also measure the idle budget), the online phase (the warm drafter trained by OnlineDrafterTraining on
// nothing but the moved policy's rollout hidden states, one rollout of the job's prompts × group per RL step,
// the idle budget's drafter steps after each), and the offline ceilings (the warm drafter trained to
// convergence, with a cosine schedule, on the moved policy's generations).
using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;
using TltTrainer.Telemetry;
using TltTrainer.Tlt;
using TorchSharp;

namespace SpecBench;

/// <summary>Accepted length after a number of offline training steps.</summary>
internal sealed record CurvePoint(int Steps, Acceptance Acceptance);

internal static class AdaptationPhases
{
    /// <summary>Real RL steps with the Quickstart job's settings and TLT on; returns their metrics (the idle budget).</summary>
    public static List<StepMetrics> Shift(CausalLM policy, EagleDraftModel warm, AdaptationScenario scenario, AdaptationSettings settings)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        using var stack = TltRollout.Create(policy, warm, new TltRolloutOptions
        {
            Workers = AdaptationSettings.Workers, MaxRunningBatch = 64, MaxSequenceLength = 1024, SpeculateAtOrBelowBatch = 16, Patience = 5,
            ThreadsPerWorker = Math.Max(1, Environment.ProcessorCount / AdaptationSettings.Workers), Online = settings.Online, Buffer = settings.Buffer,
        });
        var prompts = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 1 }).Sample(4096).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
        using var trainer = new RlTrainer(policy, tokenizer, stack.Rollout,
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }), new PromptSampler(prompts, 1),
            new RlTrainerOptions
            {
                PromptsPerStep = AdaptationSettings.PromptsPerStep, GroupSize = AdaptationSettings.GroupSize, MicroBatchSize = 32,
                LearningRate = scenario.ShiftLearningRate, Seed = 1,
                Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = AdaptationSettings.MaxNewTokens, StopTokens = AcceptanceMeasure.Stop },
            })
        { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
        var steps = new List<StepMetrics>();
        for (int s = 0; s < scenario.ShiftSteps; s++)
        {
            var m = trainer.RunStep();
            steps.Add(m);
            Console.WriteLine($"    shift step {s}: reward {m.RewardMean:F3}, accepted {m.AcceptLength:F2}, idle {m.IdleWorkerSeconds:F2} worker-s, "
                + $"{m.DrafterSteps} drafter steps in {m.DrafterTrainSeconds:F2} s, step {m.StepSeconds:F2} s");
        }
        return steps;
    }

    /// <summary>The requests of one RL step's rollout in the online phase: the job's prompts × group.</summary>
    public static List<RolloutRequest> StepRequests(int step)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        var prompts = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 0xB0B + (ulong)step }).Sample(AdaptationSettings.PromptsPerStep);
        return Enumerable.Range(0, AdaptationSettings.PromptsPerStep * AdaptationSettings.GroupSize).Select(i => new RolloutRequest(
            step * 1000 + i, tokenizer.Encode(prompts[i / AdaptationSettings.GroupSize].Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = AdaptationSettings.MaxNewTokens, StopTokens = AcceptanceMeasure.Stop, Seed = (ulong)(step * 1000 + i) },
            GroupId: i / AdaptationSettings.GroupSize)).ToList();
    }

    /// <summary>Online training from the warm drafter on the moved policy's rollouts: the drafter after each of <paramref name="rlSteps"/> steps' budget.</summary>
    public static List<Acceptance> Online(CausalLM policy, EagleDraftModel warm, IReadOnlyList<RolloutRequest> eval, AdaptationSettings settings, int budget, int rlSteps)
    {
        using var model = new EagleDraftModel(policy.Config);
        model.CopyFrom(warm.state_dict(), "warm drafter");
        using var buffer = new HiddenStateBuffer(settings.Buffer);
        using var publisher = new DrafterPublisher();
        using var training = new OnlineDrafterTraining(policy, model, buffer, publisher, settings.Online);
        var engine = new RolloutEngine(policy, new RolloutEngineOptions { MaxRunningBatch = 64, MaxSequenceLength = 1024, HiddenStateSink = buffer });
        var results = new List<Acceptance>();
        for (int step = 1; step <= rlSteps; step++)
        {
            buffer.CurrentStep = step;
            engine.Generate(StepRequests(step));
            buffer.Commit();
            training.BeginPhase();
            for (int i = 0; i < budget; i++) training.Run(threads: 1, CancellationToken.None);
            var acceptance = AcceptanceMeasure.Measure(policy, model, eval);
            Console.WriteLine($"    online, {step} RL step(s) of budget ({training.Steps} drafter steps): {acceptance}");
            results.Add(acceptance);
        }
        return results;
    }

    /// <summary>
    /// The warm drafter trained offline on the moved policy's responses to <paramref name="requests"/> (whole sequences, one target
    /// forward each): 16 generations per step, learning rate 1e-3 with a cosine decay over <paramref name="steps"/>, measured at a
    /// third, two thirds and the end of training.
    /// </summary>
    public static List<CurvePoint> Ceiling(CausalLM policy, EagleDraftModel warm, IReadOnlyList<RolloutRequest> eval, int steps, IReadOnlyList<RolloutRequest> requests)
    {
        var trajectories = new RolloutEngine(policy, new RolloutEngineOptions { MaxRunningBatch = 64, MaxSequenceLength = 1024 }).Generate(requests).Trajectories;
        var examples = DrafterTrainer.CollectExamples(policy, trajectories);
        try
        {
            using var model = new EagleDraftModel(policy.Config);
            model.CopyFrom(warm.state_dict(), "warm drafter");
            using var trainer = new DrafterTrainer(policy, model, new DrafterTrainingOptions { LearningRate = 1e-3, WarmupSteps = 20, DecaySteps = steps - 20 });
            var random = new Random(7);
            var curve = new List<CurvePoint>();
            for (int step = 1; step <= steps; step++)
            {
                using (var batch = DrafterBatch.Create(examples.OrderBy(_ => random.Next()).Take(16).ToList(), 256, pack: true)) trainer.TrainStep(batch);
                if (step != steps / 3 && step != 2 * steps / 3 && step != steps) continue;
                var acceptance = AcceptanceMeasure.Measure(policy, model, eval);
                Console.WriteLine($"    {requests.Count} generations, {step} offline steps: {acceptance}");
                curve.Add(new CurvePoint(step, acceptance));
            }
            return curve;
        }
        finally
        {
            foreach (var e in examples) e.Dispose();
        }
    }

    /// <summary>Fresh generations of the moved policy for the ceiling: the job's task distribution, another seed, distinct prompts.</summary>
    public static List<RolloutRequest> FreshRequests(int count)
    {
        var tokenizer = ChainArithmeticTextTokenizer.Instance;
        return new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 0xCE1 }).Sample(count).Select((e, i) => new RolloutRequest(i, tokenizer.Encode(e.Prompt),
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = AdaptationSettings.MaxNewTokens, StopTokens = AcceptanceMeasure.Stop, Seed = 0xCE10 + (ulong)i })).ToList();
    }
}
