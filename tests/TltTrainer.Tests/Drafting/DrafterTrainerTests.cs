using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Drafting;

public sealed class DrafterTrainerTests
{
    private static readonly TransformerConfig Config = TransformerPresets.Tiny;

    [Fact]
    public void PackedBatch_EqualsUnpackedForwards()
    {
        using var target = TestModels.Peaked(Config, seed: 51);
        using var drafter = new EagleDraftModel(Config, seed: 52);
        var trajectories = Generate(target, prompts: 3, newTokens: 9, seed: 0);
        var examples = DrafterTrainer.CollectExamples(target, trajectories);
        try
        {
            using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
            using var noGrad = no_grad();
            using var packed = DrafterBatch.Create(examples, rowLength: 64, pack: true);
            Assert.Equal(1, packed.NextTokens.shape[0]);                     // all three in one row
            using var packedOut = drafter.Forward(target.Embed(packed.NextTokens), packed.Hidden, null, 0, packed.Positions, packed.Mask);
            int col = 0;
            foreach (var e in examples)
            {
                using var alone = DrafterBatch.Create(new[] { e }, rowLength: 64, pack: false);
                using var aloneOut = drafter.Forward(target.Embed(alone.NextTokens), alone.Hidden, null, 0, alone.Positions, alone.Mask);
                int n = (int)alone.NextTokens.shape[1];
                Models.CausalLMCacheTests.AssertClose(aloneOut, packedOut.narrow(1, col, n), 1e-5);
                col += n;
            }
        }
        finally { foreach (var e in examples) e.Dispose(); }
    }

    [Fact]
    public void Training_OnTargetGenerations_RaisesAcceptLengthAndAccuracy()
    {
        // Near-linear layers under a large embedding: a structured target a one-layer drafter can learn from ~2k pairs.
        using var target = TestModels.Peaked(Config, seed: 53, std: 0.05);
        using (no_grad()) target.EmbeddingWeight.normal_(0, 0.5);
        using var drafter = new EagleDraftModel(Config, seed: 54);
        var train = DrafterTrainer.CollectExamples(target, Generate(target, prompts: 48, newTokens: 40, seed: 0));
        var heldOut = Generate(target, prompts: 8, newTokens: 40, seed: 1000);
        using var heldOutExamples = new DisposableList<DrafterExample>(DrafterTrainer.CollectExamples(target, heldOut));
        using var evalBatch = DrafterBatch.Create(heldOutExamples.Items, 64, pack: false);
        using var trainer = new DrafterTrainer(target, drafter, new DrafterTrainingOptions { LearningRate = 3e-3 });
        double acceptBefore = AcceptLength(target, drafter, 1000);
        var before = trainer.Evaluate(evalBatch);
        try
        {
            using var batch = DrafterBatch.Create(train, 64, pack: true);
            for (int step = 0; step < 200; step++) trainer.TrainStep(batch);
        }
        finally { foreach (var e in train) e.Dispose(); }
        var after = trainer.Evaluate(evalBatch);
        double acceptAfter = AcceptLength(target, drafter, 1000);
        Console.WriteLine($"loss {before.Loss:F3}→{after.Loss:F3} top1 {before.Top1Accuracy:F2}→{after.Top1Accuracy:F2} accept {acceptBefore:F2}→{acceptAfter:F2}");
        // A random target is hard to imitate; the embedded-task test holds the accepted-length bar.
        Assert.True(after.Loss < before.Loss * 0.9, $"held-out loss {before.Loss:F3} → {after.Loss:F3}");
        Assert.True(after.Top1Accuracy > before.Top1Accuracy + 0.1, $"top-1 {before.Top1Accuracy:F2} → {after.Top1Accuracy:F2}");
        Assert.True(acceptAfter > acceptBefore, $"accept length {acceptBefore:F2} → {acceptAfter:F2}");
    }

    private static IReadOnlyList<Trajectory> Generate(CausalLM target, int prompts, int newTokens, int seed)
    {
        var requests = Enumerable.Range(0, prompts).Select(i => new RolloutRequest(i,
            new[] { 1, (i + seed) % Config.VocabSize, (i * 7 + seed) % Config.VocabSize },
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = newTokens, Seed = (ulong)(i + seed) })).ToList();
        return new RolloutEngine(target).Generate(requests).Trajectories;
    }

    private static double AcceptLength(CausalLM target, EagleDraftModel model, int seed)
    {
        using var drafter = new EagleDrafter(target, model);
        var engine = new RolloutEngine(target, new RolloutEngineOptions { Drafter = drafter, Strategy = SpecStrategy.ChainOf(4) });
        var requests = Enumerable.Range(0, 8).Select(i => new RolloutRequest(i, new[] { 1, (i + seed) % Config.VocabSize, (i * 7 + seed) % Config.VocabSize },
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 40, Seed = (ulong)(i + seed) })).ToList();
        return engine.Generate(requests).Metrics.MeanAcceptLength;
    }
}

/// <summary>Disposes every item.</summary>
internal sealed class DisposableList<T>(IReadOnlyList<T> items) : IDisposable where T : IDisposable
{
    public IReadOnlyList<T> Items { get; } = items;
    public void Dispose() { foreach (var i in Items) i.Dispose(); }
}

public sealed class EagleDraftModelIoTests
{
    [Fact]
    public void SaveLoad_RoundTripsWeightsExactly()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "drafter.safetensors");
        using var model = new EagleDraftModel(TransformerPresets.Tiny, seed: 9);
        model.Save(path);
        using var loaded = EagleDraftModel.Load(path, TransformerPresets.Tiny);
        foreach (var (name, t) in model.state_dict())
            Assert.Equal(t.data<float>().ToArray(), loaded.state_dict()[name].data<float>().ToArray());
        Assert.Contains("fc.weight", model.state_dict().Keys);
        Assert.Contains("layers.0.self_attn.q_proj.weight", model.state_dict().Keys);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("input_layernorm"));
    }

    [Fact]
    public void Load_ForWrongTargetWidth_NamesFileAndTensor()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "drafter.safetensors");
        using (var model = new EagleDraftModel(TransformerPresets.Tiny)) model.Save(path);
        var e = Assert.Throws<InvalidDataException>(() => EagleDraftModel.Load(path, TransformerPresets.Tiny with { HiddenSize = 48, HeadDimRaw = 8 }));
        Assert.Contains(path, e.Message);
        Assert.Contains("fc.weight", e.Message);
    }
}
