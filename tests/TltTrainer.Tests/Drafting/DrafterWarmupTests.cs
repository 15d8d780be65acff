using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

public sealed class DrafterWarmupTests
{
    private static readonly DrafterWarmupOptions Quick = new() { Steps = 3, SequencesPerStep = 2, RowLength = 32, WarmupSteps = 1 };

    private static List<RolloutRequest> Requests() => Enumerable.Range(0, 4).Select(i => new RolloutRequest(i, new[] { 1, 2 + i },
        new SamplingOptions { Temperature = 1.0, MaxNewTokens = 12, Seed = (ulong)i })).ToList();

    [Fact]
    public void LoadOrTrain_SecondCall_LoadsTheCachedWeights()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 5);
        string path = Path.Combine(dir.Path, "sub", "drafter.safetensors");

        using var trained = DrafterWarmup.LoadOrTrain(model, path, Requests(), Quick);
        Assert.True(File.Exists(path));
        using var loaded = DrafterWarmup.LoadOrTrain(model, path, Array.Empty<RolloutRequest>(), Quick);   // no requests: must not train

        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        var expected = trained.state_dict();
        foreach (var (name, tensor) in loaded.state_dict()) Assert.True(tensor.equal(expected[name]).all().item<bool>(), name);
    }

    [Fact]
    public void LoadOrTrain_UnreadableCache_RetrainsAndReplacesIt()
    {
        using var dir = new TempDirectory();
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 5);
        string path = dir.Write("drafter.safetensors", new byte[] { 1, 2, 3 });

        using var drafter = DrafterWarmup.LoadOrTrain(model, path, Requests(), Quick);

        Assert.True(new FileInfo(path).Length > 3);
    }

    [Fact]
    public void Options_Invalid_ThrowNamingTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => new DrafterWarmupOptions { SequencesPerStep = 0 }.Validate());
        Assert.Contains("SequencesPerStep", e.Message);
    }

    [Fact]
    public void TrainOn_ReportsEveryStep_WithTheRunningPairCount()
    {
        using var model = TestModels.Peaked(TransformerPresets.Tiny, seed: 5);
        var trajectories = new RolloutEngine(model, new RolloutEngineOptions { MaxRunningBatch = 4 }).Generate(Requests()).Trajectories;
        var examples = DrafterTrainer.CollectExamples(model, trajectories);
        try
        {
            var seen = new List<(int Step, long Pairs, int StepPairs)>();
            EagleDraftModel? reported = null;
            using var trained = DrafterWarmup.TrainOn(model, examples, Quick, onStep: s =>
            {
                seen.Add((s.Step, s.Pairs, s.Result.Pairs));
                reported = s.Model;
            });

            Assert.Equal(Enumerable.Range(1, Quick.Steps), seen.Select(s => s.Step));
            Assert.All(seen, s => Assert.True(s.StepPairs > 0));
            long total = 0;
            foreach (var s in seen) Assert.Equal(total += s.StepPairs, s.Pairs);
            Assert.Same(trained, reported);
        }
        finally
        {
            foreach (var e in examples) e.Dispose();
        }
    }

    [Fact]
    public void Training_CosineDecay_FallsToTheFloorAtTheLastStep()
    {
        var options = new DrafterWarmupOptions { Steps = 50, WarmupSteps = 10, LearningRate = 4e-3, CosineDecay = true, UnrollSteps = 2, FeatureNoise = 0.1 };
        var training = options.Training();
        Assert.Equal(40, training.DecaySteps);
        Assert.Equal(2, training.UnrollSteps);
        Assert.Equal(0.1, training.FeatureNoise);
        using var model = new CausalLM(TransformerPresets.Tiny, seed: 1);
        using var drafter = new EagleDraftModel(model.Config);
        using var trainer = new DrafterTrainer(model, drafter, training);
        Assert.Equal(4e-3, trainer.LearningRate(10), 12);
        Assert.Equal(4e-3 * training.MinLearningRateRatio, trainer.LearningRate(options.Steps), 12);
        Assert.Equal(0, new DrafterWarmupOptions { Steps = 50 }.Training().DecaySteps);
    }
}
