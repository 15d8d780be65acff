using TltTrainer.Optimization;
using TorchSharp.Modules;

namespace TltTrainer.Tests.Optimization;

public sealed class RootedAdamWTests
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
        using var optimizer = new RootedAdamW(new[] { ours }, beta1: 0.9, beta2: 0.95, weightDecay: 0.01);
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

    [Fact]
    public void SaveAndLoad_ContinueExactlyAsTheUninterruptedOptimizer()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var start = randn(new long[] { 4, 3 }, generator: generator);
        var gradients = Enumerable.Range(0, 6).Select(_ => randn(new long[] { 4, 3 }, generator: generator)).ToArray();
        var straight = new Parameter(start.clone());
        using var uninterrupted = new RootedAdamW(new[] { straight }, 0.9, 0.99, 0.1) { LearningRate = 3e-2 };
        var resumed = new Parameter(start.clone());
        using var first = new RootedAdamW(new[] { resumed }, 0.9, 0.99, 0.1) { LearningRate = 3e-2 };
        for (int i = 0; i < 3; i++)
        {
            (straight.grad, resumed.grad) = (gradients[i].clone(), gradients[i].clone());
            uninterrupted.Step();
            first.Step();
        }
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) first.Save(writer);
        stream.Position = 0;
        using var second = new RootedAdamW(new[] { resumed }, 0.9, 0.99, 0.1) { LearningRate = 3e-2 };
        using (var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true)) second.Load(reader);
        Assert.Equal(3, second.Steps);
        Assert.Equal(stream.Length, stream.Position);
        for (int i = 3; i < gradients.Length; i++)
        {
            (straight.grad, resumed.grad) = (gradients[i].clone(), gradients[i].clone());
            uninterrupted.Step();
            second.Step();
        }
        Assert.Equal(straight.data<float>().ToArray(), resumed.data<float>().ToArray());   // bit for bit
    }

    [Fact]
    public void Load_OtherFormatsAndOtherParameters_AreRefusedByName_AndLeaveTheStateAlone()
    {
        using var scope = NewDisposeScope();
        var p = new Parameter(ones(3, 2));
        using var optimizer = new RootedAdamW(new[] { p }, 0.9, 0.999, 0.0);
        p.grad = ones(3, 2);
        optimizer.Step();

        using (var garbage = new BinaryReader(new MemoryStream(new byte[] { 1, 2, 3, 4, 5 })))
            Assert.Contains("not a TltTrainer AdamW state", Assert.Throws<InvalidDataException>(() => optimizer.Load(garbage)).Message);

        var other = new Parameter(ones(5));
        using var elsewhere = new RootedAdamW(new[] { other }, 0.9, 0.999, 0.0);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) elsewhere.Save(writer);
        stream.Position = 0;
        using (var reader = new BinaryReader(stream))
            Assert.Contains("parameter 0 has 5 elements there and 6 here", Assert.Throws<InvalidDataException>(() => optimizer.Load(reader)).Message);
        Assert.Equal(1, optimizer.Steps);
    }
}
