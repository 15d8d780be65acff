using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Speculative;

namespace TltTrainer.Tests.Models;

/// <summary>
/// The code that runs while other threads allocate (rollout forwards on every worker, the drafter's training on an idle
/// one) must not hand libtorch a Scalar the garbage collector can finalize mid-call: TorchSharp creates them implicitly
/// (the alpha of tensor + tensor, square()'s exponent, its own AdamW's coefficients) and does not keep them alive. Here
/// another thread collects without pause while the code runs; before the fix the drafter's step failed within a few
/// hundred iterations ("Expected false to be true" in c10::Scalar) and an implicit addition within ten thousand.
/// </summary>
public sealed class NativeLifetimeTests
{
    private static void UnderCollections(Action body)
    {
        bool stop = false;
        var collector = new Thread(() => { while (!Volatile.Read(ref stop)) { GC.Collect(); GC.WaitForPendingFinalizers(); } }) { IsBackground = true };
        collector.Start();
        try { body(); }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
    }

    [Fact]
    public void DrafterTrainingSteps_WhileAnotherThreadCollects_NeverFail()
    {
        var config = TransformerPresets.Tiny;
        using var target = new CausalLM(config, seed: 1);
        using var drafter = new EagleDraftModel(config, seed: 2);
        using var trainer = new DrafterTrainer(target, drafter);
        var random = new Random(1);
        var examples = new List<DrafterExample>();
        using (no_grad())
            for (int i = 0; i < 4; i++)
            {
                var tokens = Enumerable.Range(0, 40).Select(_ => random.Next(3, config.VocabSize)).ToArray();
                using var output = target.Forward(tensor(tokens.Select(t => (long)t).ToArray()).view(1, -1), options: ForwardOptions.HiddenOnly);
                examples.Add(new DrafterExample(tokens, output.Hidden[0].clone(), 5, 0));
            }
        UnderCollections(() =>
        {
            for (int step = 0; step < 500; step++)
            {
                using var batch = DrafterBatch.Create(examples, 64, pack: true, target.Device);
                Assert.True(double.IsFinite(trainer.TrainStep(batch).Loss));
            }
        });
        foreach (var e in examples) e.Dispose();
    }

    [Fact]
    public void CachedForwards_WhileAnotherThreadCollects_NeverFail()
    {
        var config = TransformerPresets.Tiny;
        using var model = new CausalLM(config, seed: 3);
        using var noGrad = no_grad();
        UnderCollections(() =>
        {
            for (int round = 0; round < 30; round++)
            {
                using var cache = new KvCache(config, 4, 128, model.DType);
                using (var prefill = model.Forward(tensor(Enumerable.Range(0, 4 * 80).Select(t => (long)(t % 60 + 3)).ToArray()).view(4, 80), cache)) { }
                for (int step = 0; step < 40; step++)
                {
                    using var scope = NewDisposeScope();
                    var output = model.Forward(tensor(new long[] { 5, 6, 7, 8 }).view(4, 1), cache);
                    Assert.True(output.Logits!.isfinite().all().item<bool>());
                }
            }
        });
    }
}
