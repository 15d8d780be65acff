using System.Text.RegularExpressions;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Distributed;

/// <summary>
/// Data-parallel RL across two hosts simulated on this machine: two network namespaces joined by a veth pair, one
/// rank in each, MPI over TCP on that link only (<see cref="MultiHostLauncher"/>). The same verdicts as
/// <see cref="DataParallelRlTests"/> (the same global batch matches one process, bit-identical replicas; a rank that
/// throws ends the job named and its checkpoint resumes), under Open MPI and MPICH, plus MPI's own account that the
/// ranks talked over TCP on the link and over nothing else. The time limit only catches a hang; it is no verdict.
/// </summary>
public sealed class MultiHostRlTests(SingleProcessReference reference) : IClassFixture<SingleProcessReference>
{
    private static readonly TimeSpan HangLimit = TimeSpan.FromMinutes(5);

    [MultiHostFact(MpiFlavor.OpenMpi)]
    public void OpenMpi_OneRankPerHost_OverTcp_MatchOneProcessAndStayBitIdentical()
    {
        using var pair = NetworkNamespacePair.Create();
        using var dir = new TempDirectory();
        var run = MultiHostLauncher.RunUnderOpenMpi(pair, Launch(dir), HangLimit, "train", "--out", dir.Path, "--steps", "3");
        DataParallelRlTests.AssertReplicasIdenticalAndMatchOneProcess(reference, run, dir, "mpirun on two hosts");
        AssertSecondRankStartedOnTheSecondHost(pair, run);
        AssertOpenMpiSentOverTcpOnly(pair, run);
    }

    [MultiHostFact(MpiFlavor.OpenMpi)]
    public void OpenMpi_OneRankPerHost_RankThatThrows_EndsTheJobNamed_AndTheSharedCheckpointResumes()
    {
        using var pair = NetworkNamespacePair.Create();
        using var dir = new TempDirectory();
        var failed = MultiHostLauncher.RunUnderOpenMpi(pair, Launch(dir), HangLimit, FailingRun(dir));
        AssertJobEndedNamingTheRank(failed);
        AssertSecondRankStartedOnTheSecondHost(pair, failed);
        AssertCheckpointResumesInOneProcess(dir);
    }

    [MultiHostFact(MpiFlavor.Mpich)]
    public void Mpich_OneRankPerHost_OverTcp_MatchOneProcessAndStayBitIdentical()
    {
        using var pair = NetworkNamespacePair.Create();
        using var dir = new TempDirectory();
        var run = MultiHostLauncher.RunUnderMpich(pair, Launch(dir), HangLimit, "train", "--out", dir.Path, "--steps", "3");
        DataParallelRlTests.AssertReplicasIdenticalAndMatchOneProcess(reference, run, dir, "mpiexec.mpich on two hosts");
        AssertSecondRankStartedOnTheSecondHost(pair, run);
        AssertUcxEndpointsUseTcpOnly(run);
    }

    [MultiHostFact(MpiFlavor.Mpich)]
    public void Mpich_OneRankPerHost_RankThatThrows_EndsTheJobNamed_AndTheSharedCheckpointResumes()
    {
        using var pair = NetworkNamespacePair.Create();
        using var dir = new TempDirectory();
        var failed = MultiHostLauncher.RunUnderMpich(pair, Launch(dir), HangLimit, FailingRun(dir));
        AssertJobEndedNamingTheRank(failed);
        AssertSecondRankStartedOnTheSecondHost(pair, failed);
        AssertCheckpointResumesInOneProcess(dir);
    }

    /// <summary>A folder for the launcher's files (hostfile, agent), apart from the run's outputs.</summary>
    private static string Launch(TempDirectory dir) => Directory.CreateDirectory(Path.Combine(dir.Path, "launch")).FullName;

    /// <summary>Three steps, checkpointed after each into the shared folder; rank 1 throws before step 2.</summary>
    private static string[] FailingRun(TempDirectory dir) =>
        ["train", "--out", dir.Path, "--steps", "3", "--checkpoint", Path.Combine(dir.Path, "checkpoints"), "--fail-rank", "1", "--fail-step", "2"];

    private static void AssertSecondRankStartedOnTheSecondHost(NetworkNamespacePair pair, LaunchResult run)
    {
        Assert.Contains($"netns-agent: {pair.Second.Address} -> network namespace {pair.Second.Namespace}", run.Output);
        Assert.DoesNotContain($"netns-agent: {pair.First.Address}", run.Output);   // the first host is the launcher's own
    }

    /// <summary>Open MPI's bml names the BTL each peer is reached with: TCP to the other rank (rank 1 at the second
    /// host's address), self to itself, and no other BTL (vader, the shared-memory one, in particular).</summary>
    private static void AssertOpenMpiSentOverTcpOnly(NetworkNamespacePair pair, LaunchResult run)
    {
        var uses = Regex.Matches(run.Output, @"Using (\w+) btl for send to \[\[\d+,\d+\],(\d)\] on node (\S+)");
        Assert.True(uses.Count > 0, $"no btl selection in mpirun's verbose output:\n{run.Output}");
        Assert.All(uses, u => Assert.Contains(u.Groups[1].Value, new[] { "tcp", "self" }));
        Assert.Contains(uses, u => u.Groups[1].Value == "tcp" && u.Groups[2].Value == "1" && u.Groups[3].Value == pair.Second.Address);
        Assert.Contains(uses, u => u.Groups[1].Value == "tcp" && u.Groups[2].Value == "0");
        Assert.DoesNotContain("vader", run.Output);
    }

    /// <summary>UCX (MPICH's ch4:ucx device) names each endpoint's transports, e.g. "ep_cfg[1]: tag(tcp/tltveth) am(tcp/tltveth)":
    /// every one is TCP on the link or self, never a shared-memory transport (posix, sysv, cma, knem, xpmem).</summary>
    private static void AssertUcxEndpointsUseTcpOnly(LaunchResult run)
    {
        var endpoints = run.Output.Split('\n').Where(l => l.Contains("ep_cfg[", StringComparison.Ordinal)).ToList();
        Assert.True(endpoints.Count > 0, $"no UCX endpoint configuration in the output:\n{run.Output}");
        var transports = endpoints.SelectMany(l => Regex.Matches(l[l.IndexOf("ep_cfg[", StringComparison.Ordinal)..], @"(\w+)/(\w+)")).ToList();
        Assert.All(transports, t => Assert.True(t.Value == $"tcp/{NetworkNamespacePair.Interface}" || t.Groups[1].Value == "self",
            $"UCX used {t.Value}:\n{string.Join('\n', endpoints)}"));
        Assert.Contains(transports, t => t.Value == $"tcp/{NetworkNamespacePair.Interface}");
    }

    private static void AssertJobEndedNamingTheRank(LaunchResult failed)
    {
        Assert.False(failed.TimedOut, $"the job hung after a rank threw:\n{failed.Output}");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("rank 1 of 2 failed", failed.Output);
        Assert.Contains("injected failure before step 2", failed.Output);
    }

    /// <summary>Rank 0 checkpointed two steps into the shared folder; the third runs in one process, outside the
    /// namespaces, and lands where an uninterrupted single-process run does.</summary>
    private void AssertCheckpointResumesInOneProcess(TempDirectory dir)
    {
        var resumed = MpiLauncher.Run(0, HangLimit, "train", "--out", dir.Path, "--steps", "3", "--checkpoint", Path.Combine(dir.Path, "checkpoints"), "--resume");
        Assert.True(resumed.ExitCode == 0, $"resume exited {resumed.ExitCode}:\n{resumed.Output}");
        Assert.DoesNotContain("step 0:", resumed.Output);
        Assert.Contains("step 2:", resumed.Output);
        float diff = DataParallelRlTests.MaxDifference(DataParallelRlTests.ReferenceParameters(reference), DataParallelRlTests.Read(Path.Combine(dir.Path, "params-rank0.bin")));
        Assert.True(diff < DataParallelRlTests.Tolerance, $"resumed vs uninterrupted: parameters differ by up to {diff}");
    }
}
