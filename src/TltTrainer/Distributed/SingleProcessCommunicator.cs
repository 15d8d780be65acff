// The communicator of a job with one rank: every collective is the identity (an all-gather copies), so
// code written for N ranks runs unchanged, with no MPI installed, in one process.
namespace TltTrainer.Distributed;

/// <summary>The communicator of a single-process job (rank 0 of 1).</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The shared instance (it holds no resources).</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int Size => 1;

    /// <inheritdoc />
    public string Description => "single process";

    /// <inheritdoc />
    public TimeSpan CommunicationTime => TimeSpan.Zero;

    /// <inheritdoc />
    public void Barrier() { }

    /// <inheritdoc />
    public void AllReduce<T>(Span<T> values, ReduceOperation operation = ReduceOperation.Sum) where T : unmanaged => MpiTypes.RequireReducible<T>();

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> values, int root) where T : unmanaged
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a single-process job has only rank 0.");
    }

    /// <inheritdoc />
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != send.Length)
            throw new ArgumentException($"receive has {receive.Length} elements; it needs Size × send = {send.Length}.", nameof(receive));
        send.CopyTo(receive);
    }

    /// <inheritdoc />
    public void Abort(int errorCode) => Environment.Exit(errorCode);

    /// <inheritdoc />
    public void Dispose() { }
}
