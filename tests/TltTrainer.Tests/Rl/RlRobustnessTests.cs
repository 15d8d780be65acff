using System.Diagnostics;
using TltTrainer.Models;
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Tests.TestSupport;
using TltTrainer.Tlt;
using TorchSharp;

namespace TltTrainer.Tests.Rl;

/// <summary>Faults a long RL run meets: a kill mid-checkpoint, cancellation mid-step, mismatched parts, memory over hundreds of steps.</summary>
public sealed class RlRobustnessTests
{
    [Fact]
    public void Checkpoint_KilledAtAnyPointOfTheWrite_PreviousStaysLoadableAndResumeWorks()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var (model, trainer) = RlTrainerTests.Create(dir, RlTrainerTests.Options);
        string first;
        float[] saved;
        using (model)
        using (trainer)
        {
            trainer.RunStep();
            first = trainer.SaveCheckpoint(root);
            saved = RlTrainerTests.Flatten(model);
            trainer.RunStep();
            var second = trainer.SaveCheckpoint(root);
            // What a kill leaves at each point of writing step 2 (temp folder → rename → pointer):
            // (a) killed while filling the temp folder: a half temp folder, the pointer still on step 1.
            Directory.Delete(second, recursive: true);
            File.WriteAllText(Path.Combine(root, RlCheckpoint.LatestFile), Path.GetFileName(first));
            var half = Path.Combine(root, ".step-000002.tmp-killed");
            Directory.CreateDirectory(Path.Combine(half, "policy"));
            File.WriteAllBytes(Path.Combine(half, "optimizer.bin"), new byte[] { 1, 2, 3 });
            Assert.Equal(first, RlCheckpoint.Latest(root));
            // (b) killed after a re-save moved the old folder aside but before the new one arrived: the pointer names a missing folder.
            File.WriteAllText(Path.Combine(root, RlCheckpoint.LatestFile), "step-000002");
            Assert.Equal(first, RlCheckpoint.Latest(root));
            // (c) a folder without its state file (written last) is never taken for a checkpoint.
            Directory.CreateDirectory(Path.Combine(root, "step-000009", "policy"));
            Assert.Equal(first, RlCheckpoint.Latest(root));
        }
        var (model2, trainer2) = RlTrainerTests.Create(dir, RlTrainerTests.Options);
        using (model2)
        using (trainer2)
        {
            trainer2.LoadCheckpoint(RlCheckpoint.Latest(root)!);
            Assert.Equal(1, trainer2.Step);
            Assert.Equal(saved, RlTrainerTests.Flatten(model2));
            Assert.True(double.IsFinite(trainer2.RunStep().Loss));
            var next = trainer2.SaveCheckpoint(root);                           // the next write clears the debris
            Assert.Equal(next, RlCheckpoint.Latest(root));
            Assert.Empty(Directory.GetDirectories(root, ".step-*"));
        }
    }

    [Fact]
    public void Checkpoint_ResaveSameStep_ReplacesItWhole()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var (model, trainer) = RlTrainerTests.Create(dir, RlTrainerTests.Options);
        using (model)
        using (trainer)
        {
            trainer.RunStep();
            var a = trainer.SaveCheckpoint(root);
            var b = trainer.SaveCheckpoint(root);
            Assert.Equal(a, b);
            Assert.True(RlCheckpoint.IsComplete(b));
            Assert.Empty(Directory.GetDirectories(root, ".step-*"));
        }
    }

    [Fact]
    public void Resume_WithOnlineDrafter_DrafterVersionsKeepIncreasing()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();
        (RlTrainer Trainer, IDisposable Owned) Create()
        {
            var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
            var stack = TltRollout.Create(model, new TltTrainer.Speculative.EagleDraftModel(model.Config, seed: 3), new TltRolloutOptions { Workers = 2, Patience = 0 });
            var trainer = new RlTrainer(model, tokenizer, stack.Rollout, new RewardComposer(new[] { new WeightedReward(new ConstantReward()) }),
                new PromptSampler(prompts, 3), RlTrainerTests.Options) { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
            return (trainer, new Owned(trainer, stack, model));
        }
        long saved;
        var (first, owned1) = Create();
        using (owned1)
        {
            first.RunStep();
            first.RunStep();
            first.SaveCheckpoint(root);
            saved = first.Tlt!.Training.PublishedVersion;
            Assert.True(saved >= 2, $"published version {saved} after two steps");
        }
        var (second, owned2) = Create();
        using (owned2)
        {
            second.LoadCheckpoint(RlCheckpoint.Latest(root)!);
            var m = second.RunStep();
            Assert.True(m.DrafterVersion > saved, $"after resume the rollout served drafter v{m.DrafterVersion}, not above the checkpoint's v{saved}");
        }
    }

    private sealed class ConstantReward : IRewardFunction
    {
        public string Name => "constant";
        public double Score(RewardInput input) => input.Response.Length % 2;
    }

    private sealed class Owned(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var d in items) d.Dispose();
        }
    }

    private sealed class CancelOnRollout(CancellationTokenSource cts, int afterReports) : IProgress<RlProgress>
    {
        private int _reports;

        public void Report(RlProgress value)
        {
            if (value.Rollout is not null && ++_reports == afterReports) cts.Cancel();
        }
    }

    [Fact]
    public void Cancel_MidRollout_StopsCleanly_PolicyUnchanged_CheckpointIntact()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var (model, trainer) = RlTrainerTests.Create(dir, RlTrainerTests.Options);
        using (model)
        using (trainer)
        {
            trainer.RunStep();
            var saved = trainer.SaveCheckpoint(root);
            var before = RlTrainerTests.Flatten(model);
            using var cts = new CancellationTokenSource();
            Assert.ThrowsAny<OperationCanceledException>(() => trainer.RunStep(cts.Token, new CancelOnRollout(cts, afterReports: 3)));
            Assert.Equal(before, RlTrainerTests.Flatten(model));                 // no half update
            Assert.Equal(1, trainer.Step);
            Assert.Equal(saved, RlCheckpoint.Latest(root));
            Assert.True(double.IsFinite(trainer.RunStep().Loss));                // the trainer is still usable
        }
    }

    /// <summary>Cancels the first step that reports <paramref name="phase"/> (for "rollout": at its third decode report).</summary>
    private sealed class CancelInPhase(CancellationTokenSource cts, string phase) : IProgress<RlProgress>
    {
        private int _rolloutReports;

        public void Report(RlProgress value)
        {
            if (value.Phase != phase) return;
            if (phase == "rollout" && (value.Rollout is null || ++_rolloutReports < 3)) return;
            cts.Cancel();
        }
    }

    [Theory]
    [InlineData("rollout")]
    [InlineData("reward")]
    [InlineData("old_logprob")]
    public void Cancel_InAPhaseBeforeTheUpdate_LeavesNoTraceInTheCheckpoint(string phase)
    {
        using var dir = new TempDirectory();
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();
        var options = RlTrainerTests.Options with { PromptsPerStep = 2 };   // 12 prompts, 2 a step: the sampler moves every step
        (RlTrainer Trainer, CausalLM Model, IDisposable Owned) Create()
        {
            var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
            var stack = TltRollout.Create(model, new TltTrainer.Speculative.EagleDraftModel(model.Config, seed: 3), new TltRolloutOptions { Workers = 2, Patience = 0 });
            var trainer = new RlTrainer(model, tokenizer, stack.Rollout, new RewardComposer(new[] { new WeightedReward(new ConstantReward()) }),
                new PromptSampler(prompts, 3), options) { Tlt = stack.OnlineDrafter, Drafter = stack.TrainingDrafter };
            return (trainer, model, new Owned(trainer, stack, model));
        }
        // The trainer's state in a checkpoint; the drafter version is compared apart (how many snapshots idle training
        // published depends on the time it had).
        TrainerState State(string checkpoint) => System.Text.Json.JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json")))!;

        // The uninterrupted run: two steps, a checkpoint, a third step.
        TrainerState straightState;
        double straightLoss;
        float[] straightParams;
        var (a, modelA, ownedA) = Create();
        using (ownedA)
        {
            a.RunStep();
            a.RunStep();
            straightState = State(a.SaveCheckpoint(Path.Combine(dir.Path, "straight")));
            straightLoss = a.RunStep().Loss;
            straightParams = RlTrainerTests.Flatten(modelA);
        }

        // The same run with its third step cancelled in the given phase, then checkpointed (as HfRl does on Ctrl+C).
        var root = Path.Combine(dir.Path, "cancelled");
        var (b, _, ownedB) = Create();
        using (ownedB)
        {
            b.RunStep();
            b.RunStep();
            var drafterBefore = b.Drafter!.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            long versionBefore = b.Tlt!.CommittedVersion;
            using var cts = new CancellationTokenSource();
            Assert.ThrowsAny<OperationCanceledException>(() => b.RunStep(cts.Token, new CancelInPhase(cts, phase)));
            foreach (var (name, w) in b.Drafter.state_dict())
                Assert.True(w.equal(drafterBefore[name]).all().item<bool>(), $"drafter weight {name} kept the cancelled step's training");
            var saved = State(b.SaveCheckpoint(root));
            Assert.Equal(straightState with { DrafterVersion = 0 }, saved with { DrafterVersion = 0 });   // step, optimizer steps, sampler
            Assert.Equal(versionBefore, saved.DrafterVersion);
            foreach (var t in drafterBefore.Values) t.Dispose();
        }

        // Resumed from that checkpoint, the third step is the uninterrupted run's, bit for bit.
        var (c, modelC, ownedC) = Create();
        using (ownedC)
        {
            c.LoadCheckpoint(RlCheckpoint.Latest(root)!);
            Assert.Equal(straightLoss, c.RunStep().Loss);
            Assert.Equal(straightParams, RlTrainerTests.Flatten(modelC));
        }
    }

    /// <summary>A reward that, once, sets the policy's first weight to NaN while the step is scored (a stand-in for an update gone wrong).</summary>
    private sealed class PoisonsThePolicy(CausalLM policy, int atCall) : IRewardFunction
    {
        private int _calls;
        public string Name => "poison";

        public double Score(RewardInput input)
        {
            if (++_calls == atCall)
                using (torch.no_grad()) policy.parameters().First().view(-1)[0] = float.NaN;
            return input.Response.Length % 3;
        }
    }

    [Fact]
    public void RunStep_PolicyLeftNonFinite_ThrowsDiverged_AndNeitherCountsNorReportsTheStep()
    {
        using var dir = new TempDirectory();
        var tokenizer = TestTokenizers.CharLevel(RlTrainerTests.Alphabet, dir);
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 91, std: 0.1);
        var prompts = Enumerable.Range(0, 12).Select(i => new PromptExample(RlTrainerTests.Alphabet.Substring(i, 3), null)).ToList();
        var lines = new List<TltTrainer.Telemetry.StepMetrics>();
        int perStep = RlTrainerTests.Options.PromptsPerStep * RlTrainerTests.Options.GroupSize;
        using var trainer = new RlTrainer(model, tokenizer, new RolloutEngine(model),
            new RewardComposer(new[] { new WeightedReward(new PoisonsThePolicy(model, atCall: perStep + 1)) }), new PromptSampler(prompts, 3),
            RlTrainerTests.Options, sink: new ListSink(lines));
        trainer.RunStep();
        // Step 1: the weights turn NaN while it is scored; its update cannot repair them, so the check after the update stops the run.
        var e = Assert.Throws<PolicyDivergedException>(() => trainer.RunStep());
        Assert.Equal(1, e.Step);
        Assert.Contains("is no longer finite", e.Reason);
        Assert.Equal(1, trainer.Step);
        Assert.Single(lines);
        // The next step meets the NaN in its rollout, and says so.
        var again = Assert.Throws<PolicyDivergedException>(() => trainer.RunStep());
        Assert.Contains("non-finite logits", again.Reason);
        Assert.IsType<NonFiniteLogitsException>(again.InnerException);
        Assert.Equal(1, trainer.Step);
    }

    private sealed class ListSink(List<TltTrainer.Telemetry.StepMetrics> lines) : TltTrainer.Telemetry.IMetricsSink
    {
        public void Write(TltTrainer.Telemetry.StepMetrics metrics) => lines.Add(metrics);
    }

    [Fact]
    public void Create_TokenizerLargerThanModelVocabulary_ThrowsNamingBothSizes()
    {
        using var dir = new TempDirectory();
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        var alphabet = string.Concat(Enumerable.Range(0, 70).Select(i => (char)('¡' + i)));
        var tokenizer = TestTokenizers.CharLevel(alphabet, dir);
        var e = Assert.Throws<ArgumentException>(() => new RlTrainer(model, tokenizer, new RolloutEngine(model),
            new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(s => s)) }), new PromptSampler(new[] { new PromptExample("¡", null) }, 1), new RlTrainerOptions()));
        Assert.Contains($"{tokenizer.VocabularySize} tokens", e.Message);
        Assert.Contains($"{TransformerPresets.Tiny.VocabSize}", e.Message);
    }
}

/// <summary>Tests that measure the whole process (RSS): run alone, after the parallel ones, so other tests' memory does not count.</summary>
[CollectionDefinition("process-alone", DisableParallelization = true)]
public sealed class ProcessAloneCollection;

/// <summary>Memory over a long run.</summary>
[Collection("process-alone")]
public sealed class RlMemoryTests
{
    [Fact]
    public void LongRun_300Steps_LiveTensorsAndMemoryStayFlat()
    {
        using var dir = new TempDirectory();
        var options = RlTrainerTests.Options with { PromptsPerStep = 2, GroupSize = 4, PpoEpochs = 1, MiniBatchesPerEpoch = 1, LearningRate = 1e-4 };
        var (model, trainer) = RlTrainerTests.Create(dir, options);
        using (model)
        using (trainer)
        {
            for (int i = 0; i < 30; i++) trainer.RunStep();                     // warm-up: optimizer state, allocator pools
            long liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            GC.Collect();
            long rssAfterWarmup = Process.GetCurrentProcess().WorkingSet64;
            for (int i = 0; i < 280; i++) trainer.RunStep();
            GC.Collect();
            long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            long rss = Process.GetCurrentProcess().WorkingSet64;
            Assert.Equal(310, trainer.Step);
            Assert.True(live <= liveAfterWarmup, $"live tensors grew from {liveAfterWarmup} to {live} over 280 steps");
            Assert.True(rss - rssAfterWarmup < 64L << 20, $"RSS grew by {(rss - rssAfterWarmup) >> 20} MiB over 280 steps");
        }
    }
}
