using System.Runtime.InteropServices;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Distributed;

/// <summary>A single-process run of the MPI host (3 RL steps, global batch 3 prompts × 4), shared by the tests.</summary>
public sealed class SingleProcessReference : IDisposable
{
    private readonly TempDirectory _dir = new();

    public SingleProcessReference()
    {
        if (MpiLauncher.MpiRun is null) return;
        Result = MpiLauncher.Run(0, TimeSpan.FromMinutes(3), "train", "--out", _dir.Path, "--steps", "3");
        Parameters = File.Exists(ParamsPath) ? DataParallelRlTests.Read(ParamsPath) : null;
    }

    public LaunchResult? Result { get; }

    public float[]? Parameters { get; }

    /// <summary>The run's metrics.jsonl.</summary>
    public string MetricsPath => Path.Combine(_dir.Path, "metrics.jsonl");

    private string ParamsPath => Path.Combine(_dir.Path, "params-rank0.bin");

    public void Dispose() => _dir.Dispose();
}

public sealed class DataParallelRlTests(SingleProcessReference reference) : IClassFixture<SingleProcessReference>
{
    // Float sums in another order (micro-batches cut per rank, a different rollout batch): rounding only.
    internal const float Tolerance = 1e-5f;

    internal static float[] Read(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();

    private float[] Reference() => ReferenceParameters(reference);

    internal static float[] ReferenceParameters(SingleProcessReference reference)
    {
        Assert.True(reference.Parameters is not null, $"single-process reference run failed:\n{reference.Result?.Output}");
        return reference.Parameters!;
    }

    private void AssertReplicasIdenticalAndMatchOneProcess(LaunchResult run, TempDirectory dir, string launcher) =>
        AssertReplicasIdenticalAndMatchOneProcess(reference, run, dir, launcher);

    /// <summary>The run succeeded, both ranks hold bit-identical parameters, and they match one process on the same global batch.</summary>
    internal static void AssertReplicasIdenticalAndMatchOneProcess(SingleProcessReference reference, LaunchResult run, TempDirectory dir, string launcher)
    {
        Assert.True(run.ExitCode == 0, $"{launcher} exited {run.ExitCode}:\n{run.Output}");
        var rank0 = Read(Path.Combine(dir.Path, "params-rank0.bin"));
        var rank1 = Read(Path.Combine(dir.Path, "params-rank1.bin"));
        Assert.True(rank0.AsSpan().SequenceEqual(rank1), $"replicas differ by up to {MaxDifference(rank0, rank1)}");
        float diff = MaxDifference(ReferenceParameters(reference), rank0);
        Assert.True(diff < Tolerance, $"2 ranks ({launcher}) vs 1 process: parameters differ by up to {diff}");
    }

    internal static float MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return a.Zip(b, (x, y) => Math.Abs(x - y)).Max();
    }

    [MpiFact]
    public void TwoRanks_Tlt_RankDoneEarlyTrainsTheDrafter_AndEveryRankGetsTheSameDrafter()
    {
        // Rank 1's rollout (its long tail) ends only after rank 0's idle worker has trained 3 drafter steps while waiting for it
        // in the end-of-round barrier: an event, not a delay, so nothing here depends on the machine's speed. At the step
        // boundary both ranks hold the same drafter, trained away from where it started.
        using var dir = new TempDirectory();
        var run = MpiLauncher.Run(2, TimeSpan.FromMinutes(3), "train", "--out", dir.Path, "--steps", "2", "--tlt", "--slow-rank", "1", "--hold-steps", "3");
        Assert.True(run.ExitCode == 0, $"mpirun exited {run.ExitCode}:\n{run.Output}");
        var drafter0 = Read(Path.Combine(dir.Path, "drafter-rank0.bin"));
        var drafter1 = Read(Path.Combine(dir.Path, "drafter-rank1.bin"));
        Assert.True(drafter0.AsSpan().SequenceEqual(drafter1), $"drafters differ by up to {MaxDifference(drafter0, drafter1)}");
        using (var start = new TltTrainer.Speculative.EagleDraftModel(TltTrainer.Models.TransformerPresets.Tiny, seed: 5))
        using (var scope = torch.NewDisposeScope())   // keeps the chained temporaries alive until used
        {
            var initial = start.parameters().SelectMany(p => p.detach().flatten().data<float>().ToArray()).ToArray();
            Assert.True(MaxDifference(initial, drafter0) > 1e-4f, "the shared drafter never trained");
        }
        var policy0 = Read(Path.Combine(dir.Path, "params-rank0.bin"));
        Assert.True(policy0.AsSpan().SequenceEqual(Read(Path.Combine(dir.Path, "params-rank1.bin"))), "policy replicas differ");

        static (double Seconds, int Steps)[] Waits(string path) => File.ReadAllLines(path)
            .Select(l => l.Split(' ')).Select(f => (double.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var early = Waits(Path.Combine(dir.Path, "wait-rank0.txt"));
        var late = Waits(Path.Combine(dir.Path, "wait-rank1.txt"));
        Assert.Equal(2, early.Length);
        // Rank 0's metrics count the drafter steps it trained while waiting for rank 1: the 3 that released rank 1, or more.
        Assert.Equal(2, late.Length);
        Assert.All(early, w => Assert.True(w.Steps >= 3, $"rank 0 trained {w.Steps} drafter steps while waiting ({w.Seconds:F3} s)"));
    }

    [MpichFact]
    public void TwoRanks_UnderMpich_MatchOneProcessAndStayBitIdentical()
    {
        using var dir = new TempDirectory();
        var run = MpiLauncher.RunUnderMpich(2, TimeSpan.FromMinutes(3), "train", "--out", dir.Path, "--steps", "3");
        AssertReplicasIdenticalAndMatchOneProcess(run, dir, "mpiexec.mpich");
    }

    [MpiFact]
    public void TwoRanks_SameGlobalBatch_MatchOneProcessAndStayBitIdentical()
    {
        // The host builds each rank's model from a different seed: the trainer must broadcast rank 0's
        // weights first. Shards are uneven (3 groups: 1 on rank 0, 2 on rank 1); 2 epochs × 2 mini-batches.
        using var dir = new TempDirectory();
        var run = MpiLauncher.Run(2, TimeSpan.FromMinutes(3), "train", "--out", dir.Path, "--steps", "3");
        AssertReplicasIdenticalAndMatchOneProcess(run, dir, "mpirun");
        var metrics = File.ReadAllLines(Path.Combine(dir.Path, "metrics.jsonl"));
        Assert.Equal(3, metrics.Length);                            // rank 0 alone writes metrics
        Assert.Contains("\"dist/ranks\":2", metrics[0].Replace(" ", ""));
        // The response metrics are gathered from both ranks: the same values as one process.
        var single = File.ReadAllLines(reference.MetricsPath).Select(l => System.Text.Json.JsonSerializer.Deserialize<TltTrainer.Telemetry.StepMetrics>(l)!).ToArray();
        var ranks = metrics.Select(l => System.Text.Json.JsonSerializer.Deserialize<TltTrainer.Telemetry.StepMetrics>(l)!).ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(single[i].ClippedRatio, ranks[i].ClippedRatio);
            Assert.Equal(single[i].TerminatedLengthMean, ranks[i].TerminatedLengthMean);
            Assert.Equal(single[i].ZeroStdGroups, ranks[i].ZeroStdGroups);
            Assert.Equal(single[i].RewardFunctionMeans, ranks[i].RewardFunctionMeans);
        }
    }

    [MpiFact]
    public void RankWhoseRolloutThrows_WithTlt_EndsTheJobNamed_InsteadOfHanging()
    {
        // The failing rank must not enter the drafter's sharing collectives while the other rank waits in the
        // step's barrier: it stops training locally and RankFailure aborts the job.
        using var dir = new TempDirectory();
        var failed = MpiLauncher.Run(2, TimeSpan.FromMinutes(2), "train", "--out", dir.Path, "--steps", "3", "--tlt", "--rollout-fail-rank", "1");
        Assert.False(failed.TimedOut, $"the job hung after a rank's rollout threw:\n{failed.Output}");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("rank 1 of 2 failed", failed.Output);
        Assert.Contains("injected rollout failure", failed.Output);
    }

    [MpiFact]
    public void RankThatThrows_EndsTheJobNamed_AndTheLastCheckpointResumesOnOneRank()
    {
        using var dir = new TempDirectory();
        var root = Path.Combine(dir.Path, "checkpoints");
        var failed = MpiLauncher.Run(2, TimeSpan.FromMinutes(2), "train", "--out", dir.Path, "--steps", "3", "--checkpoint", root,
            "--fail-rank", "1", "--fail-step", "2");
        Assert.False(failed.TimedOut, $"the job hung after a rank threw:\n{failed.Output}");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("rank 1 of 2 failed", failed.Output);
        Assert.Contains("injected failure before step 2", failed.Output);

        // Two steps were checkpointed on 2 ranks; the third runs in one process and lands where an uninterrupted single-process run does.
        var resumed = MpiLauncher.Run(0, TimeSpan.FromMinutes(2), "train", "--out", dir.Path, "--steps", "3", "--checkpoint", root, "--resume");
        Assert.True(resumed.ExitCode == 0, $"resume exited {resumed.ExitCode}:\n{resumed.Output}");
        Assert.DoesNotContain("step 0:", resumed.Output);
        Assert.Contains("step 2:", resumed.Output);
        float diff = MaxDifference(Reference(), Read(Path.Combine(dir.Path, "params-rank0.bin")));
        Assert.True(diff < Tolerance, $"resumed vs uninterrupted: parameters differ by up to {diff}");
    }
}
