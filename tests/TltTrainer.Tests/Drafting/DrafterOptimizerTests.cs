using TltTrainer.Drafting;
using TorchSharp.Modules;

namespace TltTrainer.Tests.Drafting;

public sealed class DrafterOptimizerTests
{
    [Fact]
    public void Step_EqualsTorchAdamW_OverSeveralSteps()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        var start = randn(new long[] { 7, 5 }, generator: generator);
        var gradients = Enumerable.Range(0, 6).Select(_ => randn(new long[] { 7, 5 }, generator: generator)).ToArray();
        var ours = new Parameter(start.clone());
        var reference = new Parameter(start.clone());
        using var optimizer = new DrafterOptimizer(new[] { ours }, beta1: 0.9, beta2: 0.95, weightDecay: 0.01);
        var adamw = optim.AdamW(new[] { reference }, 1e-2, 0.9, 0.95, weight_decay: 0.01);
        for (int i = 0; i < gradients.Length; i++)
        {
            optimizer.LearningRate = 1e-2 * (i + 1) / gradients.Length;               // a schedule, as warm-up sets it
            foreach (var group in adamw.ParamGroups) group.LearningRate = optimizer.LearningRate;
            ours.grad = gradients[i].clone();
            reference.grad = gradients[i].clone();
            optimizer.Step();
            adamw.step();
            double gap = (ours - reference).abs().max().item<float>();
            Assert.True(gap < 1e-6, $"step {i}: parameters differ by {gap}");
        }
    }
}
