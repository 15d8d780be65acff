// The one seam between the trainer and whatever connects its processes. The trainer only needs a few
// collectives over plain memory (gradients, counts, metrics, weights), so the interface is small and
// span-based; tensor overloads live in CommunicatorTensorExtensions and map a CPU tensor's own storage
// to a span (no copy). Every rank must issue the same collectives in the same order, with the same
// element counts, or the job hangs: callers keep their communication on one linear path.
namespace TltTrainer.Distributed;

/// <summary>How <see cref="ICommunicator.AllReduce{T}"/> combines the ranks' values.</summary>
public enum ReduceOperation
{
    /// <summary>Element-wise sum.</summary>
    Sum,

    /// <summary>Element-wise maximum.</summary>
    Max,

    /// <summary>Element-wise minimum.</summary>
    Min,
}

/// <summary>
/// Collective communication among the processes (ranks) of one job: MPI when launched by <c>mpirun</c>,
/// or a single process. Collectives are blocking and must be called by every rank in the same order.
/// </summary>
/// <remarks>
/// Supported element types for reductions: <see cref="float"/>, <see cref="double"/>, <see cref="int"/>,
/// <see cref="long"/>, <see cref="byte"/>. Broadcast and all-gather move any unmanaged type as bytes.
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank in [0, <see cref="Size"/>).</summary>
    int Rank { get; }

    /// <summary>Number of ranks in the job.</summary>
    int Size { get; }

    /// <summary>What connects the ranks, for logs (e.g. "single process", "Open MPI 4.1.4").</summary>
    string Description { get; }

    /// <summary>Wall-clock time spent inside collectives so far (waiting included).</summary>
    TimeSpan CommunicationTime { get; }

    /// <summary>Blocks until every rank has called it.</summary>
    void Barrier();

    /// <summary>Combines <paramref name="values"/> element-wise over all ranks, in place: afterwards every rank holds the result.</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not a supported reduction type.</exception>
    void AllReduce<T>(Span<T> values, ReduceOperation operation = ReduceOperation.Sum) where T : unmanaged;

    /// <summary>Copies <paramref name="values"/> of rank <paramref name="root"/> into every other rank's <paramref name="values"/> (same length on every rank).</summary>
    void Broadcast<T>(Span<T> values, int root) where T : unmanaged;

    /// <summary>
    /// Gathers every rank's <paramref name="send"/> (the same length on every rank) into every rank's
    /// <paramref name="receive"/>, rank 0's first; <paramref name="receive"/> has <see cref="Size"/> × that length.
    /// </summary>
    void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>Ends every rank of the job at once with <paramref name="errorCode"/> (a single process exits).</summary>
    void Abort(int errorCode);

    /// <summary>
    /// Enters a barrier without blocking (MPI_Ibarrier): the caller keeps working and polls the result until
    /// every rank has entered. Like every collective, all ranks must call it in the same order. The default
    /// blocks in <see cref="Barrier"/> and returns a completed barrier.
    /// </summary>
    IPendingBarrier StartBarrier()
    {
        Barrier();
        return PendingBarrier.Completed;
    }
}

/// <summary>A barrier entered with <see cref="ICommunicator.StartBarrier"/>; dispose waits for it if still pending.</summary>
public interface IPendingBarrier : IDisposable
{
    /// <summary>True once every rank has entered the barrier (MPI_Test). Call on the communicating thread.</summary>
    bool Poll();
}

/// <summary>Pending barriers that need no MPI.</summary>
public static class PendingBarrier
{
    /// <summary>A barrier every rank has already passed.</summary>
    public static IPendingBarrier Completed { get; } = new Done();

    private sealed class Done : IPendingBarrier
    {
        public bool Poll() => true;

        public void Dispose() { }
    }
}
