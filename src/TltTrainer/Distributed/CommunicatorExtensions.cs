// Collectives built from the primitives: gathering arrays whose length differs per rank (counts first,
// then one all-gather of arrays padded to the longest), and single scalars.
namespace TltTrainer.Distributed;

/// <summary>Convenience collectives over <see cref="ICommunicator"/>.</summary>
public static class CommunicatorExtensions
{
    /// <summary>Every rank's <paramref name="local"/> (lengths may differ), indexed by rank, on every rank.</summary>
    public static T[][] AllGatherVariable<T>(this ICommunicator communicator, ReadOnlySpan<T> local) where T : unmanaged
    {
        if (communicator.Size == 1) return [local.ToArray()];
        var counts = new int[communicator.Size];
        communicator.AllGather<int>([local.Length], counts);
        int longest = counts.Max();
        var padded = new T[longest];
        local.CopyTo(padded);
        var all = new T[longest * communicator.Size];
        communicator.AllGather<T>(padded, all);
        return Enumerable.Range(0, communicator.Size).Select(r => all.AsSpan(r * longest, counts[r]).ToArray()).ToArray();
    }

    /// <summary>Every rank's strings (counts may differ), indexed by rank, on every rank (UTF-8 over one variable all-gather).</summary>
    public static string[][] AllGatherStrings(this ICommunicator communicator, IReadOnlyList<string> local)
    {
        if (communicator.Size == 1) return [local.ToArray()];
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(local);
        return communicator.AllGatherVariable<byte>(bytes).Select(b => System.Text.Json.JsonSerializer.Deserialize<string[]>(b)!).ToArray();
    }

    /// <summary>
    /// A barrier that sleeps between polls of a non-blocking barrier instead of spinning in a blocking MPI call,
    /// so other threads of this process (or other ranks on this machine) have the cores while it waits.
    /// </summary>
    /// <param name="communicator">The job's ranks; every rank must call it, in the same order as its other collectives.</param>
    /// <param name="pollMilliseconds">Sleep between polls.</param>
    public static void SleepingBarrier(this ICommunicator communicator, int pollMilliseconds = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pollMilliseconds, 1);
        using var barrier = communicator.StartBarrier();
        while (!barrier.Poll()) Thread.Sleep(pollMilliseconds);
    }

    /// <summary>The sum of <paramref name="value"/> over all ranks.</summary>
    public static double AllReduceSum(this ICommunicator communicator, double value)
    {
        if (communicator.Size == 1) return value;
        Span<double> one = [value];
        communicator.AllReduce(one);
        return one[0];
    }
}
