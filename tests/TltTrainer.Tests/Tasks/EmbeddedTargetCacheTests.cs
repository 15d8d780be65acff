using TltTrainer.Models;
using TltTrainer.Tasks;

namespace TltTrainer.Tests.Tasks;

/// <summary>Cache keying, atomic writes and reloading, on a tiny recipe that trains in a second.</summary>
public sealed class EmbeddedTargetCacheTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"tlt-cache-test-{Guid.NewGuid():N}");

    private EmbeddedTargetOptions Tiny => new()
    {
        Config = TransformerPresets.Tiny, Steps = 3, WarmupSteps = 1, RowsPerBatch = 2, RowLength = 64,
        CurriculumStartTerms = 2, CurriculumEndTerms = 4, Threads = 1, CacheDirectory = _dir,
    };

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void LoadOrTrain_SecondCall_LoadsIdenticalWeightsFromCache()
    {
        var reports = new List<EmbeddedTargetProgress>();
        using var trained = EmbeddedTarget.LoadOrTrain(Tiny, new SyncProgress(reports.Add));
        Assert.False(trained.FromCache);
        Assert.True(File.Exists(trained.CachePath));
        Assert.Empty(Directory.GetFiles(_dir, "*.tlt-tmp"));
        Assert.Equal(new[] { 1, 2, 3 }, reports.Where(r => r.Phase == EmbeddedTargetPhase.Training).Select(r => r.Step));
        Assert.Equal(EmbeddedTargetPhase.Done, reports[^1].Phase);

        using var loaded = EmbeddedTarget.LoadOrTrain(Tiny);
        Assert.True(loaded.FromCache);
        Assert.Equal(trained.Info, loaded.Info);
        using var scope = NewDisposeScope();   // chained tensor temporaries must stay referenced through native calls
        foreach (var ((name, a), (_, b)) in trained.Model.named_parameters().Zip(loaded.Model.named_parameters()))
            Assert.True(a.equal(b).all().item<bool>(), name);
    }

    [Fact]
    public void CacheKey_DependsOnRecipeButNotOnFolderOrThreads()
    {
        string key = EmbeddedTarget.CacheKey(Tiny);
        Assert.Equal(key, EmbeddedTarget.CacheKey(Tiny with { CacheDirectory = "/elsewhere", Threads = 7 }));
        Assert.NotEqual(key, EmbeddedTarget.CacheKey(Tiny with { Seed = 2 }));
        Assert.NotEqual(key, EmbeddedTarget.CacheKey(Tiny with { PeakLearningRate = 1e-4 }));
        Assert.NotEqual(key, EmbeddedTarget.CacheKey(Tiny with { Config = Tiny.Config with { RopeTheta = 500 } }));
        Assert.StartsWith(_dir, EmbeddedTarget.CacheFilePath(Tiny), StringComparison.Ordinal);
    }

    [Fact]
    public void LoadOrTrain_CorruptCacheFile_RetrainsAndReplacesIt()
    {
        string path = EmbeddedTarget.CacheFilePath(Tiny);
        Directory.CreateDirectory(_dir);
        File.WriteAllText(path, "not a checkpoint");
        using var target = EmbeddedTarget.LoadOrTrain(Tiny);
        Assert.False(target.FromCache);
        using var again = EmbeddedTarget.LoadOrTrain(Tiny);
        Assert.True(again.FromCache);
    }

    [Fact]
    public void LoadOrTrain_Cancelled_ThrowsAndCachesNothing()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => EmbeddedTarget.LoadOrTrain(Tiny, cancellationToken: cts.Token));
        Assert.False(File.Exists(EmbeddedTarget.CacheFilePath(Tiny)));
    }

    [Fact]
    public void Train_RestoresCallerThreadCount()
    {
        int before = get_num_threads();
        using var target = EmbeddedTarget.LoadOrTrain(Tiny with { Threads = before == 1 ? 2 : 1 });
        Assert.Equal(before, get_num_threads());
    }

    [Theory]
    [InlineData(nameof(EmbeddedTargetOptions.Steps))]
    [InlineData(nameof(EmbeddedTargetOptions.RowLength))]
    [InlineData(nameof(EmbeddedTargetOptions.WarmupSteps))]
    [InlineData(nameof(EmbeddedTargetOptions.CurriculumEndTerms))]
    public void Validate_InvalidField_ThrowsNamingIt(string field)
    {
        var bad = field switch
        {
            nameof(EmbeddedTargetOptions.Steps) => Tiny with { Steps = 0 },
            nameof(EmbeddedTargetOptions.RowLength) => Tiny with { RowLength = 20 },          // shorter than a 4-term example
            nameof(EmbeddedTargetOptions.WarmupSteps) => Tiny with { WarmupSteps = 3 },
            _ => Tiny with { CurriculumEndTerms = 1 },
        };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => bad.Validate());
        Assert.Equal(field, e.ParamName);
    }

    [Fact]
    public void LearningRate_WarmsUpThenDecaysToFloor()
    {
        var o = new EmbeddedTargetOptions { Steps = 100, WarmupSteps = 10, PeakLearningRate = 1e-3, FinalLearningRateFraction = 0.1 };
        Assert.Equal(1e-4, EmbeddedTargetTrainer.LearningRate(o, 0), 12);
        Assert.Equal(1e-3, EmbeddedTargetTrainer.LearningRate(o, 10), 12);
        Assert.Equal(1e-4, EmbeddedTargetTrainer.LearningRate(o, 99), 12);
        Assert.True(EmbeddedTargetTrainer.LearningRate(o, 50) < EmbeddedTargetTrainer.LearningRate(o, 30));
    }

    private sealed class SyncProgress(Action<EmbeddedTargetProgress> report) : IProgress<EmbeddedTargetProgress>
    {
        public void Report(EmbeddedTargetProgress value) => report(value);
    }
}
