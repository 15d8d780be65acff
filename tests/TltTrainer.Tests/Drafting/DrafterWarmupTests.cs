using TltTrainer.Drafting;
using TltTrainer.Models;
using TltTrainer.Rollout;
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
}
