using System.Text.Json;
using TltTrainer.Distributed;
using TltTrainer.Tests.TestSupport;

namespace TltTrainer.Tests.Distributed;

public sealed class MpiCollectivesTests
{
    [MpiFact]
    public void Collectives_TwoRanksUnderOpenMpi_MatchHandComputedValues()
    {
        using var dir = new TempDirectory();
        var result = MpiLauncher.Run(2, TimeSpan.FromMinutes(2), "collectives", "--out", dir.Path);
        AssertHandComputedValues(result, dir, "mpirun", "Open MPI");
    }

    [MpichFact]
    public void Collectives_TwoRanksUnderMpich_MatchHandComputedValues()
    {
        // MPICH's ABI: int handles, MPI_IN_PLACE = -1, MPI_STATUS_IGNORE = 1, int requests.
        using var dir = new TempDirectory();
        var result = MpiLauncher.RunUnderMpich(2, TimeSpan.FromMinutes(2), "collectives", "--out", dir.Path);
        AssertHandComputedValues(result, dir, "mpiexec.mpich", "MPICH");
    }

    /// <summary>The launch succeeded under the expected MPI library and every rank's collectives gave the hand-computed values.</summary>
    private static void AssertHandComputedValues(LaunchResult result, TempDirectory dir, string launcher, string library)
    {
        Assert.True(result.ExitCode == 0, $"{launcher} exited {result.ExitCode}:\n{result.Output}");
        Assert.StartsWith(library, File.ReadAllText(Path.Combine(dir.Path, "description-rank0.txt")));
        for (int r = 0; r < 2; r++)
        {
            var got = JsonSerializer.Deserialize<Dictionary<string, double[]>>(File.ReadAllText(Path.Combine(dir.Path, $"collectives-rank{r}.json")))!;
            // rank r contributes [1,2,3]·(r+1): 1+2 = 3 times each.
            Assert.Equal(new double[] { 3, 6, 9 }, got["allreduce_sum_f32"]);
            // arange(10)·(r+1), only [2, 5) reduced: those become 3·i, the rest keep this rank's values.
            var view = Enumerable.Range(0, 10).Select(i => i is >= 2 and < 5 ? 3.0 * i : (r + 1.0) * i).ToArray();
            Assert.Equal(view, got["allreduce_view_f32"]);
            // arange(6)·(r+1) as the transpose of a 2×3 view, summed: 3·[[0,3],[1,4],[2,5]].
            Assert.Equal(new double[] { 0, 9, 3, 12, 6, 15 }, got["allreduce_strided_f64"]);
            Assert.Equal(new double[] { 1, 10 }, got["allreduce_max_i64"]);            // max of [r, 10−r]
            Assert.Equal(new double[] { 5, -1 }, got["allreduce_min_i32"]);            // min of [r+5, −r]
            Assert.Equal(new double[] { 1.5, 1 }, got["allreduce_span_f64"]);          // 0.5 + 1, 0 + 1
            Assert.Equal(new double[] { 8, 8, 8, 8 }, got["broadcast_f32"]);           // root 1 holds 7·1+1
            Assert.Equal(new double[] { 2.5, 2.5, 2.5 }, got["broadcast_bf16"]);       // root 1 holds 1.5+1
            Assert.Equal(new double[] { 40, 41 }, got["broadcast_span_u8"]);           // root 0
            Assert.Equal(new double[] { 0, 0.5, 1, 1.5 }, got["allgather_f32"]);       // [r, r+0.5], rank order
            Assert.Equal(new double[] { 0, 0, 0, 1, 100, -1 }, got["allgather_span_i64"]);
            Assert.Equal(new double[] { r, 2 }, got["rank_size"]);
        }
        // Rank 0 entered the non-blocking barrier 300 ms before rank 1 and saw it pending.
        var rank0 = JsonSerializer.Deserialize<Dictionary<string, double[]>>(File.ReadAllText(Path.Combine(dir.Path, "collectives-rank0.json")))!;
        Assert.Equal(new double[] { 1 }, rank0["ibarrier_waited"]);
    }

    [Fact]
    public void SingleProcess_Collectives_AreIdentityAndGatherCopies()
    {
        var c = SingleProcessCommunicator.Instance;
        var values = new float[] { 1, 2 };
        c.AllReduce<float>(values);
        c.Broadcast<float>(values, 0);
        Assert.Equal(new float[] { 1, 2 }, values);
        var gathered = new float[2];
        c.AllGather<float>(values, gathered);
        Assert.Equal(values, gathered);
        using var t = tensor(new float[] { 3, 4 });
        c.AllReduce(t);
        Assert.Equal(new float[] { 3, 4 }, t.data<float>().ToArray());
        Assert.Throws<NotSupportedException>(() => c.AllReduce<short>(new short[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.Broadcast<float>(values, 1));
    }

    [Fact]
    public void FromEnvironment_WithoutLauncher_IsSingleProcess()
    {
        if (Communicator.LaunchedByMpi) return;   // the test host itself under mpirun: nothing to check
        using var c = Communicator.FromEnvironment();
        Assert.Equal((0, 1), (c.Rank, c.Size));
    }
}
